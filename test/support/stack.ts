import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { inject } from 'vitest';
import type { WebhookDeliverySettings } from '../../src/activities/events/webhook-delivery-activities.js';
import { createApp } from '../../src/api/app.js';
import type { AppDeps } from '../../src/api/deps.js';
import { listen } from '../../src/api/server.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import type { CircuitConfig } from '../../src/domain/circuit-breaker.js';
import { silentLogger } from '../../src/logger.js';
import { findProviderDefinition } from '../../src/stores/platform/provider-definition-store.js';
import { tenantProviderLoader } from '../../src/providers/build-registry.js';
import { createEgressFetch, resolveInternalEndpoints, type EgressFetch, type EgressOptions } from '../../src/providers/egress/egress-fetch.js';
import { internalTargets } from '../../src/providers/egress/from-env.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { CredentialCipher, type CipherKey } from '../../src/secrets/credential-cipher.js';
import { encryptionDataConverter, EncryptionCodec } from '../../src/temporal/payload-codec.js';
import type { RateLimitSettings } from '../../src/api/rate-limit.js';
import type { PaymentTiming } from '../../src/shared/payment-messages.js';
import { taskQueuesWithSuffix, type TaskQueues } from '../../src/shared/task-queues.js';
import { createWorkers, type WorkerSet } from '../../src/workers/worker.js';
import { RECORDING_CODEC_KEYS } from './record-history.js';

/** A real stack for one suite: Postgres, Temporal dev server, a worker set on its own queues, the app. */
export interface TestStack {
  app: Express;
  /** Another API instance on the same database and Temporal (e.g. with other keys or limits). */
  makeApp(overrides?: Partial<AppDeps>): Express;
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  /** `id:base64key` of the cipher, for a worker started as a separate process. */
  credentialsKeys: string;
  /** `id:base64key` of the payload codec (PAYLOAD_CODEC_KEYS), for a worker started as a separate process. */
  payloadCodecKeys: string;
  providers: ProviderRegistry;
  /** The guarded fetch every tenant provider of this stack sends through. */
  egress: EgressFetch;
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
  /**
   * The egress guard's policy. Default: private networks allowed (the emulators run on loopback), the
   * Temporal server and Postgres refused; security suites turn private networks off.
   */
  egress?: Partial<EgressOptions>;
  /** Suites send many requests quickly: limits are high unless a suite sets low ones. */
  rateLimits?: Partial<RateLimitSettings>;
  /** Credential keys, first one active (default: one random key "test1"). */
  credentialKeys?: CipherKey[];
  /** The worker's activity slots per task queue and each tenant's share of provider calls (defaults as in production). */
  activitySlots?: number;
  tenantProviderCalls?: number;
  /** Webhook delivery timing (retry window, first delay, HTTP cap, auto-disable) in ms; production defaults otherwise. */
  webhookSettings?: Partial<WebhookDeliverySettings>;
}

const HIGH_RATE_LIMITS: RateLimitSettings = { windowSeconds: 60, tenant: 1_000_000, ip: 1_000_000, webhook: 1_000_000 };

let runtimeInstalled = false;
export function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  quietTemporalRuntime();
  const database = connectPostgres(inject('databaseUrl'), { poolSize: 10 });
  const keys = opts.credentialKeys ?? [{ id: 'test1', key: randomBytes(32) }];
  const cipher = new CredentialCipher(keys);
  // Every client and worker of the stack encrypts payloads, as in production.
  const codecKeys = process.env.RECORD_HISTORIES === '1' ? RECORDING_CODEC_KEYS : [{ id: 'codec1', key: randomBytes(32) }];
  const dataConverter = encryptionDataConverter(codecKeys);
  const egressOptions: EgressOptions = {
    allowPrivateNetworks: true,
    internalEndpoints: await resolveInternalEndpoints(internalTargets(inject('temporalAddress'), inject('databaseUrl'))),
    ...opts.egress,
  };
  const egress = createEgressFetch(egressOptions);
  const providers = new ProviderRegistry(opts.providers ?? [], {
    loadTenantProvider: tenantProviderLoader((t, n) => findProviderDefinition(database.db, t, n), egress),
  });
  const queueSuffix = randomUUID().slice(0, 8);
  const taskQueues = taskQueuesWithSuffix(queueSuffix);
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;

  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection, namespace: 'default', dataConverter });
  let worker: { set: WorkerSet; running: Promise<void>; connection: NativeConnection } | undefined;
  const closers: (() => Promise<void>)[] = [];

  const deps: AppDeps = {
    database,
    temporal,
    cipher,
    providers,
    egress,
    adminToken,
    logger: silentLogger,
    payloadCodec: new EncryptionCodec(codecKeys),
    codecCorsOrigin: 'http://127.0.0.1:8233',
    urlPolicy: {
      allowPrivateNetworks: egressOptions.allowPrivateNetworks,
      ...(egressOptions.allowedHosts ? { allowedHosts: egressOptions.allowedHosts } : {}),
    },
    taskQueues,
    ...(opts.paymentTiming ? { paymentTiming: opts.paymentTiming } : {}),
    ...(opts.circuit ? { circuit: opts.circuit } : {}),
    rateLimits: { ...HIGH_RATE_LIMITS, ...opts.rateLimits },
  };
  const app = createApp(deps);

  const stack: TestStack = {
    app,
    makeApp: (overrides = {}) => createApp({ ...deps, ...overrides }),
    database,
    temporal,
    cipher,
    credentialsKeys: keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    payloadCodecKeys: codecKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    providers,
    egress,
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
        deps: {
          db: database.db,
          cipher,
          providers,
          erpUrlPolicy: { allowPrivateNetworks: egressOptions.allowPrivateNetworks },
          erpFetch: egress,
          webhookFetch: egress,
          ...(opts.webhookSettings ? { webhookSettings: opts.webhookSettings } : {}),
          ...(opts.circuit ? { circuit: opts.circuit, erpCircuit: opts.circuit } : {}),
        },
        workflowBundle: { codePath: inject('workflowBundlePath') },
        taskQueues,
        dataConverter,
        listen: database.listen,
        ...(opts.activitySlots ? { activitySlots: opts.activitySlots } : {}),
        ...(opts.tenantProviderCalls ? { tenantProviderCalls: opts.tenantProviderCalls } : {}),
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
      await egress.close();
    },
  };
  if (opts.startWorker !== false) await stack.startWorker();
  return stack;
}
