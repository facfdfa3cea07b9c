import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { connectPostgres } from '../../src/db/client.js';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server.js';
import { bundleWorkflows } from '../../src/workers/worker.js';

/**
 * Once per test run: a real Temporal dev server (headless, in memory), a fresh Postgres database with
 * the migrations applied, and the workflow bundle built once for every suite. Each tier that needs the
 * stack names this file (vitest.config.ts); the first of them to start sets the stack up for all.
 */
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/**
 * A database of this run's own (named after its process) unless TEST_DATABASE_NAME names one: a process
 * some earlier run left behind, still polling its database, cannot touch this run's rows. Databases of
 * runs whose process is gone are dropped.
 */
const RUN_DB_PREFIX = 'switchyard_test_run_';
const TEST_DB = process.env.TEST_DATABASE_NAME ?? `${RUN_DB_PREFIX}${process.pid}`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Returns the teardown: only the tier that started the stack stops it. */
export async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // Provided on the root project, which every tier inherits from: a second tier finds it set.
  if (project.getProvidedContext().temporalAddress) return undefined;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const runs = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${RUN_DB_PREFIX + '%'}`;
    for (const { datname } of runs) {
      const pid = Number(datname.slice(RUN_DB_PREFIX.length));
      if (Number.isInteger(pid) && !processAlive(pid)) await admin.unsafe(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
    await admin.unsafe(`DROP DATABASE IF EXISTS ${TEST_DB} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${TEST_DB}`);
  } catch (err) {
    throw new Error(`Tests need a real Postgres at ${ADMIN_URL} (set TEST_POSTGRES_URL): ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.end();
  }
  const databaseUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${TEST_DB}`);
  const database = connectPostgres(databaseUrl, { poolSize: 1 });
  await database.migrate();
  await database.close();

  const [temporal, bundle] = await Promise.all([startTemporalDevServer({ cli: process.env.TEMPORAL_CLI }), bundleWorkflows()]);
  const bundleDir = path.resolve('.data/test');
  mkdirSync(bundleDir, { recursive: true });
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, 'code' in bundle ? bundle.code : '');

  const run = project.vitest;
  run.provide('databaseUrl', databaseUrl);
  run.provide('adminDatabaseUrl', ADMIN_URL);
  run.provide('temporalAddress', temporal.address);
  run.provide('workflowBundlePath', bundlePath);

  return async () => {
    await temporal.stop();
    if (TEST_DB.startsWith(RUN_DB_PREFIX)) await dropDatabase(TEST_DB);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
  }
}
