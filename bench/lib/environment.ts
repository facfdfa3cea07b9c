/**
 * What every bench sets up before it measures: a scratch database on the local Postgres, and the
 * settings the Switchyard processes it starts share (fresh keys, that database, the dev server).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The local Postgres's maintenance database; scratch databases are created beside it. */
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Drops the database (its open sessions too) and closes the admin session. */
  drop(): Promise<void>;
}

/** Creates `name` afresh (one left by an interrupted run is dropped first). */
export async function scratchDatabase(name: string): Promise<ScratchDatabase> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  return {
    name,
    url: ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The environment the API and the workers of one bench run share, and the admin token of its API. */
export function switchyardSettings(opts: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueueSuffix: string;
  extra?: Record<string, string>;
}): { adminToken: string; env: Record<string, string> } {
  return {
    adminToken: `bench-admin-${randomBytes(16).toString('hex')}`,
    env: {
      DATABASE_URL: opts.databaseUrl,
      TEMPORAL_ADDRESS: opts.temporalAddress,
      CREDENTIALS_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      PAYLOAD_CODEC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      // The emulated providers listen on 127.0.0.1.
      ALLOW_PRIVATE_PROVIDER_URLS: 'true',
      TASK_QUEUE_SUFFIX: opts.taskQueueSuffix,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      ...opts.extra,
    },
  };
}
