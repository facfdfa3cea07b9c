import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { AppDeps } from './api/app.js';
import { ConfigError, type Env } from './config/env.js';
import { findProviderDefinition } from './db/queries/provider-definitions.js';
import { connectEmbedded, connectPostgres, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { buildProviderRegistry } from './providers/build-registry.js';
import type { ProviderRegistry } from './providers/registry.js';
import { CredentialCipher } from './secrets/credential-cipher.js';
import { taskQueuesFor } from './shared/task-queues.js';
import { connectTemporalClient, connectTemporalWorker } from './temporal/connection.js';
import { ensureHealthCheckSchedule } from './temporal/health-schedule.js';
import { bundleWorkflows, createWorkers, type WorkerSet } from './workers/worker.js';

/** Everything a process (API, worker or both) shares, built once from the parsed config. */
export interface Runtime {
  env: Env;
  database: Database;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  logger: Logger;
  close(): Promise<void>;
}

export async function createRuntime(env: Env, opts: { allowEmbeddedDb: boolean }): Promise<Runtime> {
  if (!env.CREDENTIALS_KEYS) {
    throw new ConfigError('Missing configuration: CREDENTIALS_KEYS (e.g. k1:$(openssl rand -base64 32))');
  }
  if (!env.DATABASE_URL && !opts.allowEmbeddedDb) {
    throw new ConfigError('Missing configuration: DATABASE_URL (postgres://user:pass@host:5432/db)');
  }
  const logger = createLogger(env.LOG_LEVEL);
  const database = env.DATABASE_URL
    ? connectPostgres(env.DATABASE_URL, { poolSize: env.DATABASE_POOL_SIZE })
    : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
  await database.migrate();
  return {
    env,
    database,
    cipher: new CredentialCipher(env.CREDENTIALS_KEYS),
    providers: await buildProviderRegistry(env, (tenantId, name) => findProviderDefinition(database.db, tenantId, name)),
    logger,
    close: () => database.close(),
  };
}

/** The API's dependencies from a runtime: the one place the entry points translate settings for it. */
export function appDeps(runtime: Runtime, temporal: Client, adminToken: string): AppDeps {
  const { env } = runtime;
  return {
    ...runtime,
    temporal,
    adminToken,
    urlPolicy: { allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS },
    taskQueues: taskQueuesFor(env.TASK_QUEUE_SUFFIX),
    paymentTiming: { callbackTimeoutMs: env.PAYMENT_CALLBACK_TIMEOUT_SECONDS * 1000 },
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
  };
}

export interface RunningWorkers {
  workers: WorkerSet;
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** Graceful: stop polling, let in-flight tasks finish, close the connections. */
  stop(): Promise<void>;
}

/** Connects, bundles the workflows, starts one worker per task queue and the health-check Schedule. */
export async function startWorkers(runtime: Runtime): Promise<RunningWorkers> {
  const { env } = runtime;
  const taskQueues = taskQueuesFor(env.TASK_QUEUE_SUFFIX);
  const connection = await connectTemporalWorker(env);
  const workers = await createWorkers({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    deps: { db: runtime.database.db, cipher: runtime.cipher, providers: runtime.providers },
    workflowBundle: await bundleWorkflows(),
    taskQueues,
  });
  const done = workers.run();
  const client = await connectTemporalClient(env);
  await ensureHealthCheckSchedule(client, taskQueues, env.HEALTH_CHECK_INTERVAL_SECONDS, env.TASK_QUEUE_SUFFIX);
  await client.connection.close();
  return {
    workers,
    done,
    stop: async () => {
      workers.shutdown();
      await done;
      await connection.close();
    },
  };
}
