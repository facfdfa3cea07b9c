import { sql, type SQL } from 'drizzle-orm';
import { onTestFinished } from 'vitest';
import { getCurrentTest } from 'vitest/suite';
import type { Db } from '../../src/db/client.js';

/**
 * Holds a lock taken by `statement` (e.g. `lock table … in exclusive mode`, `select … for update`) in
 * a transaction of its own until the returned function is called (at the latest when the test ends):
 * a worker's write then waits on it, and a test can kill the worker exactly there.
 */
export async function holdLock(db: Db, statement: SQL): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  if (getCurrentTest()) onTestFinished(() => release());
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

/**
 * Pids of sessions whose current statement matches `pattern` (ILIKE) and waits on a lock: the worker a
 * test is about to kill. (Matching by text alone would also find other suites' idle pooled sessions,
 * whose last statement stays in pg_stat_activity.)
 */
export async function sessionsWaitingOnLock(db: Db, pattern: string): Promise<number[]> {
  const rows = (await db.execute(
    sql`select pid from pg_stat_activity
        where datname = current_database() and state = 'active' and wait_event_type = 'Lock'
          and query ilike ${pattern} and query not ilike '%pg_stat_activity%'`,
  )) as unknown as { pid: number }[];
  return rows.map((r) => r.pid);
}

/** Whether any of the sessions `pids` is still connected (a killed client's session ends by itself). */
export async function anySessionAlive(db: Db, pids: number[]): Promise<boolean> {
  const rows = (await db.execute(
    sql`select 1 from pg_stat_activity where pid in (${sql.join(
      pids.map((p) => sql`${p}`),
      sql`, `,
    )})`,
  )) as unknown[];
  return rows.length > 0;
}
