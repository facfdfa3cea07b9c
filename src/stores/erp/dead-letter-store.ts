/**
 * Dead letters of an ERP integration (table erp_dead_letters): rows that did not map or validate,
 * with the raw row. Open until replayed, dismissed by the tenant, or resolved by a later valid record
 * of the same natural key.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpDeadLetters } from '../../db/tables/erp.js';
import { recordEvents, type NewEvent } from '../events/event-store.js';
import { keysetPage, type Page } from '../keyset-page.js';
import { recordAudit, type ChangedBy } from '../platform/audit-event-store.js';

export type DeadLetterRow = typeof erpDeadLetters.$inferSelect;

/** A dead letter as the API lists it and as erp.dead_letter.created carries it. */
export type DeadLetterView = {
  id: string;
  runId: string;
  entity: string;
  status: DeadLetterRow['status'];
  /** The record's natural key when its key fields mapped (what closes it when that key syncs later). */
  recordKey: string | null;
  raw: unknown;
  errors: DeadLetterRow['errors'];
  createdAt: string;
  replayedAt: string | null;
  /** When it was dismissed or resolved. */
  closedAt: string | null;
  dismissReason: string | null;
  /** The run whose valid record of the same key resolved it. */
  resolvedByRunId: string | null;
};

export function deadLetterView(row: DeadLetterRow): DeadLetterView {
  return {
    id: row.id,
    runId: row.runId,
    entity: row.entity,
    status: row.status,
    recordKey: row.recordKey,
    raw: row.raw,
    errors: row.errors,
    createdAt: row.createdAt.toISOString(),
    replayedAt: row.replayedAt?.toISOString() ?? null,
    closedAt: row.closedAt?.toISOString() ?? null,
    dismissReason: row.dismissReason,
    resolvedByRunId: row.resolvedByRunId,
  };
}

/** One page of an integration's dead letters of one status, oldest first (the order a replay takes them in). */
export async function listDeadLetters(
  db: Db,
  integrationId: string,
  status: DeadLetterRow['status'],
  page: { cursor?: string | undefined; limit: number },
): Promise<Page<DeadLetterRow>> {
  return keysetPage<DeadLetterRow>(
    db,
    {
      table: erpDeadLetters,
      orderBy: [erpDeadLetters.createdAt, erpDeadLetters.id],
      order: 'asc',
      scope: eq(erpDeadLetters.integrationId, integrationId),
      filter: eq(erpDeadLetters.status, status),
    },
    page,
  );
}

/** The dead letter is closed otherwise (replayed or resolved): there is nothing to dismiss. */
export class DeadLetterClosedError extends Error {
  override readonly name = 'DeadLetterClosedError';
  constructor(readonly row: DeadLetterRow) {
    super(`dead letter ${row.id} is ${row.status}${row.closedAt ? ` since ${row.closedAt.toISOString()}` : ''}`);
  }
}

/** What the audit log records of a dead letter (never its raw row, which may hold personal data). */
const audited = (row: DeadLetterRow) => ({ id: row.id, entity: row.entity, status: row.status, recordKey: row.recordKey, closedAt: row.closedAt?.toISOString() ?? null, dismissReason: row.dismissReason });

/**
 * Dismisses an open dead letter (it is not replayed and no longer listed as open), audited and
 * announced (erp.dead_letter.closed) in the same transaction. Idempotent: a dismissed one is answered as it is; a replayed or resolved one is a
 * DeadLetterClosedError. Undefined when the integration has no such dead letter.
 */
export async function dismissDeadLetter(
  db: Db,
  by: ChangedBy,
  integrationId: string,
  id: string,
  reason: string | undefined,
): Promise<DeadLetterRow | undefined> {
  return db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(erpDeadLetters)
      .where(and(eq(erpDeadLetters.id, id), eq(erpDeadLetters.integrationId, integrationId), eq(erpDeadLetters.tenantId, by.tenantId)))
      .for('update');
    if (!locked || locked.status === 'dismissed') return locked;
    if (locked.status !== 'open') throw new DeadLetterClosedError(locked);
    const [dismissed] = await tx
      .update(erpDeadLetters)
      .set({ status: 'dismissed', closedAt: new Date(), dismissReason: reason ?? null })
      .where(eq(erpDeadLetters.id, id))
      .returning();
    await recordAudit(tx, { ...by, action: 'dead_letter.dismissed', resourceType: 'dead_letter', resourceId: id, before: audited(locked), after: audited(dismissed!) });
    await recordEvents(tx, [closedEvent(dismissed!)]);
    return dismissed;
  });
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Dead letters written per INSERT statement. */
const DEAD_LETTER_INSERT_ROWS = 1000;

/**
 * Writes dead letters in the caller's transaction (with the catalog upsert of the same page), and an
 * erp.dead_letter.created for each: one statement for all the page's events.
 */
export async function insertDeadLetters(tx: Tx, letters: (typeof erpDeadLetters.$inferInsert)[]): Promise<void> {
  if (letters.length === 0) return;
  const written: DeadLetterRow[] = [];
  // In slices: one INSERT of a whole page of dead letters would pass Postgres's 65,535 parameters
  // (7 a row) from about 9,000 rows, and deep query building overflowed the stack at 50,000.
  for (let i = 0; i < letters.length; i += DEAD_LETTER_INSERT_ROWS) {
    written.push(...(await tx.insert(erpDeadLetters).values(letters.slice(i, i + DEAD_LETTER_INSERT_ROWS)).returning()));
  }
  await recordEvents(
    tx,
    written.map((row) => ({ tenantId: row.tenantId, type: 'erp.dead_letter.created' as const, resource: { type: 'dead_letter' as const, id: row.id }, data: deadLetterView(row) })),
  );
}

/**
 * Closes as resolved (with an erp.dead_letter.closed each) the integration's open dead letters of `entity` whose key is among `keys` (an
 * array literal of natural keys): a later record of that key was valid and applied. In the caller's
 * transaction, with the page's upsert; a partial index on open keyed letters keeps it one index probe
 * per key, and nothing at all for an integration with no open dead letters.
 */
export async function resolveDeadLetters(tx: Tx, change: { integrationId: string; entity: string; runId: string; keys: string }): Promise<void> {
  const resolved = await tx
    .update(erpDeadLetters)
    .set({ status: 'resolved', closedAt: new Date(), resolvedByRunId: change.runId })
    .where(
      and(
        eq(erpDeadLetters.integrationId, change.integrationId),
        eq(erpDeadLetters.entity, change.entity),
        eq(erpDeadLetters.status, 'open'),
        sql`${erpDeadLetters.recordKey} is not null`,
        sql`${erpDeadLetters.recordKey} = any(${change.keys}::text[])`,
      ),
    )
    .returning();
  await recordEvents(tx, resolved.map(closedEvent));
}

/** erp.dead_letter.closed of a letter just dismissed or resolved. */
function closedEvent(row: DeadLetterRow): NewEvent {
  return { tenantId: row.tenantId, type: 'erp.dead_letter.closed', resource: { type: 'dead_letter', id: row.id }, data: deadLetterView(row) };
}
