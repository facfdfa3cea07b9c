/**
 * The one path every source record takes into the catalog (polling, webhooks, replays): map,
 * validate, upsert the valid ones in a batch, dead-letter the invalid ones with their raw row.
 * Runs inside the caller's transaction so it commits together with the checkpoint.
 */
import { createHash } from 'node:crypto';
import { newId } from '../../db/ids.js';
import {
  prepareUpsert,
  writeUpsert,
  type DbTransaction,
  type PreparedUpsert,
} from '../../db/queries/erp-catalog.js';
import { erpDeadLetters, type ErpRunCounts } from '../../db/tables/erp.js';
import type { EntityRecords, ErpEntity } from '../../domain/erp/entities.js';
import type { CompiledMapping } from '../../domain/erp/mapping.js';

/** The run id of a webhook event's apply, derived from its inbox row: the API can name it before the workflow runs. */
export function webhookRunId(inboxId: string): string {
  return `erun_${createHash('sha256').update(`webhook:${inboxId}`).digest('hex').slice(0, 20)}`;
}

/** Dead letters written per INSERT statement. */
const DEAD_LETTER_INSERT_ROWS = 1000;

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

/** Maps and validates records; the invalid ones become dead letters with their raw row. */
export function mapRecords<E extends ErpEntity>(
  target: Target,
  mapping: CompiledMapping<E>,
  records: unknown[],
): MappedBatch<E> {
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
  return {
    entity: mapping.entity,
    read: records.length,
    valid: valid.length,
    upsert: prepareUpsert(mapping.entity, valid),
    dead,
  };
}

/** Writes a mapped batch in the caller's transaction: one upsert of the valid records, the dead letters. */
export async function writeMapped<E extends ErpEntity>(
  tx: DbTransaction,
  target: Target,
  batch: MappedBatch<E>,
): Promise<ErpRunCounts> {
  const { upserted, unchanged } = await writeUpsert(tx, batch.upsert, target.tenantId, target.integrationId);
  // In slices: one INSERT of a whole page of dead letters would pass Postgres's 65,535 parameters
  // (7 a row) from about 9,000 rows, and deep query building overflowed the stack at 50,000.
  for (let i = 0; i < batch.dead.length; i += DEAD_LETTER_INSERT_ROWS) {
    await tx.insert(erpDeadLetters).values(batch.dead.slice(i, i + DEAD_LETTER_INSERT_ROWS));
  }
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
