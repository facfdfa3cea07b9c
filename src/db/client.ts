import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getTableColumns, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTable } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema.js';

/** The database handle every module receives; the same type for Postgres and embedded PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  /** Cheap reachability probe for /health. */
  ping(): Promise<void>;
  /**
   * Calls `onNotify` on every NOTIFY on `channel` (delivered at the notifier's commit); resolves with
   * the function that stops listening. postgres.js listens on a connection of its own and listens
   * again after a reconnect; a notification sent while it reconnects is lost, so listeners also poll.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Arbitrary constant naming Switchyard's migration lock. */
const MIGRATION_LOCK_ID = 7_406_214_833;

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

export function connectPostgres(url: string, opts: { poolSize?: number } = {}): Database {
  const client = postgres(url, {
    max: opts.poolSize ?? 10,
    onnotice: () => {},
    connect_timeout: 5,
  });
  const db = drizzlePostgres(client, { schema });
  return {
    db,
    kind: 'postgres',
    migrate: async () => {
      // API and worker may start together: an advisory lock on a dedicated session serializes them.
      const session = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
      try {
        await session`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migratePostgres(drizzlePostgres(session), { migrationsFolder });
      } finally {
        await session.end({ timeout: 5 }); // ending the session releases the lock
      }
    },
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    listen: async (channel, onNotify) => {
      const { unlisten } = await client.listen(channel, () => onNotify());
      return unlisten;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** The rows of `db.execute(...)`: an array from postgres.js, under `rows` from PGlite. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * A raw row of `table` (`returning *` of a statement run with `db.execute`) as drizzle's own queries
 * return it: column names to property names, each value through its column's type mapping.
 */
export function tableRowOf<T extends PgTable>(table: T, raw: Record<string, unknown>): T['$inferSelect'] {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as T['$inferSelect'];
}

/** Embedded Postgres (PGlite) persisted in `dir`, for a newcomer's first run. */
export async function connectEmbedded(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = new PGlite(dir);
  const db = drizzle(client, { schema });
  return {
    db,
    kind: 'pglite',
    migrate: () => migrate(db, { migrationsFolder }),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    listen: async (channel, onNotify) => client.listen(channel, () => onNotify()),
    close: () => client.close(),
  };
}
