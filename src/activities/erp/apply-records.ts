/**
 * The one path every source record takes into the catalog (polling, webhooks, replays): map,
 * validate, upsert the valid ones in a batch, dead-letter the invalid ones with their raw row.
 * Runs inside the caller's transaction so it commits together with the checkpoint.
 */
import { newId } from '../../db/ids.js';
import { upsertRecords, type DbTransaction } from '../../db/queries/erp-catalog.js';
import { erpDeadLetters, type ErpRunCounts } from '../../db/tables/erp.js';
import type { EntityRecords, ErpEntity } from '../../domain/erp/entities.js';
import type { CompiledMapping } from '../../domain/erp/mapping.js';

export const ZERO_COUNTS: ErpRunCounts = { read: 0, valid: 0, invalid: 0, upserted: 0, unchanged: 0 };

export function addCounts(a: ErpRunCounts, b: ErpRunCounts): ErpRunCounts {
  return {
    read: a.read + b.read,
    valid: a.valid + b.valid,
    invalid: a.invalid + b.invalid,
    upserted: a.upserted + b.upserted,
    unchanged: a.unchanged + b.unchanged,
  };
}

export async function applyRecords<E extends ErpEntity>(
  tx: DbTransaction,
  target: { tenantId: string; integrationId: string; runId: string },
  mapping: CompiledMapping<E>,
  records: unknown[],
): Promise<ErpRunCounts> {
  const valid: EntityRecords[E][] = [];
  const dead: (typeof erpDeadLetters.$inferInsert)[] = [];
  for (const raw of records) {
    const result = mapping.map(raw);
    if (result.ok) valid.push(result.record);
    else {
      dead.push({
        id: newId('dl'),
        tenantId: target.tenantId,
        integrationId: target.integrationId,
        runId: target.runId,
        entity: mapping.entity,
        raw: raw as object,
        errors: result.errors,
      });
    }
  }
  const { upserted, unchanged } = await upsertRecords(tx, mapping.entity, target.tenantId, target.integrationId, valid);
  if (dead.length > 0) await tx.insert(erpDeadLetters).values(dead);
  return { read: records.length, valid: valid.length, invalid: dead.length, upserted, unchanged };
}
