/** Dead letters of an ERP integration (table erp_dead_letters): rows that did not map or validate, with the raw row. */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpDeadLetters } from '../../db/tables/erp.js';
import { recordEvents } from '../events/event-store.js';

export type DeadLetterRow = typeof erpDeadLetters.$inferSelect;

/** A dead letter as the API lists it and as erp.dead_letter.created carries it. */
export type DeadLetterView = {
  id: string;
  runId: string;
  entity: string;
  status: DeadLetterRow['status'];
  raw: unknown;
  errors: DeadLetterRow['errors'];
  createdAt: string;
};

export function deadLetterView(row: DeadLetterRow): DeadLetterView {
  return { id: row.id, runId: row.runId, entity: row.entity, status: row.status, raw: row.raw, errors: row.errors, createdAt: row.createdAt.toISOString() };
}

/** Dead letters listed at once, oldest first (the order a replay takes them in). */
const LISTED_DEAD_LETTERS = 500;

export async function listDeadLetters(db: Db, integrationId: string, status: DeadLetterRow['status']): Promise<DeadLetterRow[]> {
  return db
    .select()
    .from(erpDeadLetters)
    .where(and(eq(erpDeadLetters.integrationId, integrationId), eq(erpDeadLetters.status, status)))
    .orderBy(asc(erpDeadLetters.createdAt), asc(erpDeadLetters.id))
    .limit(LISTED_DEAD_LETTERS);
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
