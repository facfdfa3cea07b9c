/**
 * The one path every source record takes into the catalog (polling, webhooks, replays): map,
 * validate, upsert the valid ones in a batch, dead-letter the invalid ones with their raw row.
 * Runs inside the caller's transaction so it commits together with the checkpoint.
 */
import { newId } from '../../db/ids.js';
import type { erpDeadLetters, ErpRunCounts } from '../../db/tables/erp.js';
import type { EntityRecords, ErpEntity } from '../../domain/erp/entities.js';
import type { CompiledMapping } from '../../domain/erp/mapping.js';
import { prepareUpsert, writeUpsert, type DbTransaction, type PreparedUpsert } from '../../stores/erp/catalog-store.js';
import { insertDeadLetters, resolveDeadLetters } from '../../stores/erp/dead-letter-store.js';

type Target = { tenantId: string; integrationId: string; runId: string };

/**
 * A page mapped, validated and turned into its upsert, not yet written: pure CPU, so it may be
 * prepared while another page commits (holding the upsert's arrays, not the mapped records).
 */
export interface MappedBatch<E extends ErpEntity = ErpEntity> {
  entity: E;
  read: number;
  valid: number;
  upsert: PreparedUpsert<E>;
  dead: (typeof erpDeadLetters.$inferInsert)[];
}

/**
 * Maps and validates records; the invalid ones become dead letters with their raw row.
 * `changedAt[i]` is record i's change time at the source (kept on its catalog row), when known.
 */
export function mapRecords<E extends ErpEntity>(
  target: Target,
  mapping: CompiledMapping<E>,
  records: unknown[],
  changedAt?: (string | undefined)[],
): MappedBatch<E> {
  const valid: EntityRecords[E][] = [];
  const validChangedAt: (string | undefined)[] = [];
  const dead: (typeof erpDeadLetters.$inferInsert)[] = [];
  for (let i = 0; i < records.length; i++) {
    const raw = records[i];
    const result = mapping.map(raw);
    if (result.ok) {
      valid.push(result.record);
      validChangedAt.push(changedAt?.[i]);
    } else {
      dead.push({
        id: newId('dl'),
        tenantId: target.tenantId,
        integrationId: target.integrationId,
        runId: target.runId,
        entity: mapping.entity,
        raw: raw as object,
        errors: result.errors,
        recordKey: result.key ?? null,
      });
    }
  }
  return {
    entity: mapping.entity,
    read: records.length,
    valid: valid.length,
    upsert: prepareUpsert(mapping.entity, valid, changedAt ? validChangedAt : undefined),
    dead,
  };
}

/**
 * Writes a mapped batch in the caller's transaction: one upsert of the valid records, the open dead
 * letters of their keys closed as resolved (before the batch's own dead letters are written, so a
 * page never resolves its own), the new dead letters.
 */
export async function writeMapped<E extends ErpEntity>(
  tx: DbTransaction,
  target: Target,
  batch: MappedBatch<E>,
): Promise<ErpRunCounts> {
  const { upserted, unchanged } = await writeUpsert(tx, batch.upsert, target.tenantId, target.integrationId);
  if (batch.valid > 0) await resolveDeadLetters(tx, { integrationId: target.integrationId, entity: batch.entity, runId: target.runId, keys: batch.upsert.keys });
  await insertDeadLetters(tx, batch.dead);
  return { read: batch.read, valid: batch.valid, invalid: batch.dead.length, upserted, unchanged };
}

export async function applyRecords<E extends ErpEntity>(
  tx: DbTransaction,
  target: Target,
  mapping: CompiledMapping<E>,
  records: unknown[],
): Promise<ErpRunCounts> {
  return writeMapped(tx, target, mapRecords(target, mapping, records));
}
