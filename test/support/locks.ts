import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';

/**
 * Holds a lock taken by `statement` (e.g. `lock table … in exclusive mode`, `select … for update`) in
 * a transaction of its own until the returned function is called: a worker's write then waits on it,
 * and a test can kill the worker exactly there.
 */
export async function holdLock(db: Db, statement: SQL): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const held = new Promise<void>((r) => (locked = r));
  void db
    .transaction(async (tx) => {
      await tx.execute(statement);
      locked();
      await released;
    })
    .catch(() => undefined);
  await held;
  return release;
}

/** Sessions whose current (or last) statement matches `pattern` (ILIKE), with what they wait on. */
export async function sessionsRunning(
  db: Db,
  pattern: string,
): Promise<{ pid: number; state: string; wait_event_type: string | null }[]> {
  return (await db.execute(
    sql`select pid, state, wait_event_type from pg_stat_activity
        where datname = current_database() and query ilike ${pattern} and query not ilike '%pg_stat_activity%'`,
  )) as unknown as { pid: number; state: string; wait_event_type: string | null }[];
}
