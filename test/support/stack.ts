import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { listen } from '../../src/api/server.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import type { CircuitConfig } from '../../src/domain/circuit-breaker.js';
import { silentLogger } from '../../src/logger.js';
import { findProviderDefinition } from '../../src/db/queries/provider-definitions.js';
import { tenantProviderLoader } from '../../src/providers/build-registry.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { CredentialCipher } from '../../src/secrets/credential-cipher.js';
import type { PaymentTiming } from '../../src/shared/payment-messages.js';
import { taskQueuesWithSuffix, type TaskQueues } from '../../src/shared/task-queues.js';
import { createWorkers, type WorkerSet } from '../../src/workers/worker.js';

/** A real stack for one suite: Postgres, Temporal dev server, a worker set on its own queues, the app. */
export interface TestStack {
  app: Express;
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  /** `id:base64key` of the cipher, for a worker started as a separate process. */
  credentialsKeys: string;
  providers: ProviderRegistry;
  taskQueues: TaskQueues;
  queueSuffix: string;
  adminToken: string;
  createTenant(name?: string): Promise<{ id: string; apiKey: string; auth: { Authorization: string } }>;
  /** Starts the in-process workers (done at start unless `startWorker: false`). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Serves the app on a loopback port (for gateway callbacks); returns its base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TestStackOptions {
  providers?: ProviderFactory[];
  startWorker?: boolean;
  paymentTiming?: Partial<PaymentTiming>;
  circuit?: CircuitConfig;
}

let runtimeInstalled = false;
function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  quietTemporalRuntime();
  const database = connectPostgres(inject('databaseUrl'), { poolSize: 10 });
  const key = randomBytes(32);
  const cipher = new CredentialCipher([{ id: 'test1', key }]);
  const providers = new ProviderRegistry(opts.providers ?? [], {
    loadTenantProvider: tenantProviderLoader((t, n) => findProviderDefinition(database.db, t, n), { allowPrivateNetworks: true }),
  });
  const queueSuffix = randomUUID().slice(0, 8);
  const taskQueues = taskQueuesWithSuffix(queueSuffix);
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;

  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection, namespace: 'default' });
  let worker: { set: WorkerSet; running: Promise<void>; connection: NativeConnection } | undefined;
  const closers: (() => Promise<void>)[] = [];

  const app = createApp({
    database,
    temporal,
    cipher,
    providers,
    adminToken,
    logger: silentLogger,
    urlPolicy: { allowPrivateNetworks: true },
    taskQueues,
    ...(opts.paymentTiming ? { paymentTiming: opts.paymentTiming } : {}),
    ...(opts.circuit ? { circuit: opts.circuit } : {}),
  });

  const stack: TestStack = {
    app,
    database,
    temporal,
    cipher,
    credentialsKeys: `test1:${key.toString('base64')}`,
    providers,
    taskQueues,
    queueSuffix,
    adminToken,
    async createTenant(name = 'Test tenant') {
      const res = await request(app).post('/v1/tenants').set('Authorization', `Bearer ${adminToken}`).send({ name }).expect(201);
      return { id: res.body.tenant.id, apiKey: res.body.apiKey, auth: { Authorization: `Bearer ${res.body.apiKey}` } };
    },
    async startWorker() {
      if (worker) return;
      const workerConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
      const set = await createWorkers({
        connection: workerConnection,
        namespace: 'default',
        deps: { db: database.db, cipher, providers, ...(opts.circuit ? { circuit: opts.circuit } : {}) },
        workflowBundle: { codePath: inject('workflowBundlePath') },
        taskQueues,
      });
      worker = { set, running: set.run(), connection: workerConnection };
    },
    async stopWorker() {
      if (!worker) return;
      worker.set.shutdown();
      await worker.running;
      await worker.connection.close();
      worker = undefined;
    },
    async listen() {
      const http = await listen(app, '127.0.0.1', 0);
      closers.push(http.close);
      return http.url;
    },
    async close() {
      for (const close of closers) await close();
      await stack.stopWorker();
      await connection.close();
      await database.close();
    },
  };
  if (opts.startWorker !== false) await stack.startWorker();
  return stack;
}
