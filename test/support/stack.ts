import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { silentLogger } from '../../src/logger.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { CredentialCipher } from '../../src/secrets/credential-cipher.js';
import { taskQueuesWithSuffix, type TaskQueues } from '../../src/shared/task-queues.js';
import { createWorkers, type WorkerSet } from '../../src/workers/worker.js';

/** A real stack for one suite: Postgres, Temporal dev server, a worker set on its own queues, the app. */
export interface TestStack {
  app: Express;
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  taskQueues: TaskQueues;
  adminToken: string;
  createTenant(name?: string): Promise<{ id: string; apiKey: string; auth: { Authorization: string } }>;
  close(): Promise<void>;
}

let runtimeInstalled = false;
function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export async function startTestStack(opts: { providers?: ProviderFactory[] } = {}): Promise<TestStack> {
  quietTemporalRuntime();
  const database = connectPostgres(inject('databaseUrl'), { poolSize: 5 });
  const cipher = new CredentialCipher([{ id: 'test1', key: randomBytes(32) }]);
  const providers = new ProviderRegistry(opts.providers ?? []);
  const taskQueues = taskQueuesWithSuffix(randomUUID().slice(0, 8));
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;

  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection, namespace: 'default' });
  const workerConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const workers: WorkerSet = await createWorkers({
    connection: workerConnection,
    namespace: 'default',
    deps: { db: database.db, cipher, providers },
    workflowBundle: { codePath: inject('workflowBundlePath') },
    taskQueues,
  });
  const running = workers.run();

  const app = createApp({
    database,
    temporal,
    cipher,
    providers,
    adminToken,
    logger: silentLogger,
    urlPolicy: { allowPrivateNetworks: true },
    taskQueues,
  });

  return {
    app,
    database,
    temporal,
    cipher,
    providers,
    taskQueues,
    adminToken,
    async createTenant(name = 'Test tenant') {
      const res = await request(app)
        .post('/v1/tenants')
        .set('Authorization', `Bearer ${adminToken}`)
        .send({ name })
        .expect(201);
      return { id: res.body.tenant.id, apiKey: res.body.apiKey, auth: { Authorization: `Bearer ${res.body.apiKey}` } };
    },
    async close() {
      workers.shutdown();
      await running;
      await workerConnection.close();
      await connection.close();
      await database.close();
    },
  };
}
