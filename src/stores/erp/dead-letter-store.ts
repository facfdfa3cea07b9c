/** Dead letters of an ERP integration (table erp_dead_letters): rows that did not map or validate, with the raw row. */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpDeadLetters } from '../../db/tables/erp.js';

export type DeadLetterRow = typeof erpDeadLetters.$inferSelect;

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

/** Writes dead letters in the caller's transaction (with the catalog upsert of the same page). */
export async function insertDeadLetters(tx: Tx, letters: (typeof erpDeadLetters.$inferInsert)[]): Promise<void> {
  // In slices: one INSERT of a whole page of dead letters would pass Postgres's 65,535 parameters
  // (7 a row) from about 9,000 rows, and deep query building overflowed the stack at 50,000.
  for (let i = 0; i < letters.length; i += DEAD_LETTER_INSERT_ROWS) {
    await tx.insert(erpDeadLetters).values(letters.slice(i, i + DEAD_LETTER_INSERT_ROWS));
  }
}
