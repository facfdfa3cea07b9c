import postgres from 'postgres';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connectPostgres, migrationsFolder } from '../../src/db/client.js';

const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };

const NAME = 'switchyard_migration_check';
const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });

afterAll(async () => {
  const a = admin();
  await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
  await a.end();
});

describe('migrations', () => {
  it('processes starting together migrate a fresh database once, without tripping over each other', async () => {
    const a = admin();
    await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
    await a.unsafe(`CREATE DATABASE ${NAME}`);
    await a.end();
    const url = inject('adminDatabaseUrl').replace(/\/[^/]*$/, `/${NAME}`);
    const processes = Array.from({ length: 4 }, () => connectPostgres(url, { poolSize: 1 }));
    try {
      await Promise.all(processes.map((p) => p.migrate()));
      const check = postgres(url, { max: 1 });
      const tables = await check`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
      const applied = await check`select count(*)::int as n from drizzle.__drizzle_migrations`;
      await check.end();
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['tenants', 'connections', 'payments', 'payment_attempts', 'webhook_events']));
      expect(applied[0]!.n).toBe(journal.entries.length);
    } finally {
      await Promise.all(processes.map((p) => p.close()));
    }
  });
});
