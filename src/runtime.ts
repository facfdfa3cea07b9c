import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { AppDeps } from './api/deps.js';
import { ConfigError, type ApiEnv, type Env, type WorkerEnv } from './config/env.js';
import { findProviderDefinition } from './stores/platform/provider-definition-store.js';
import { connectEmbedded, connectPostgres, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { buildProviderRegistry } from './providers/build-registry.js';
import type { EgressFetch } from './providers/egress/egress-fetch.js';
import { createEgressFromEnv, outboundUrlPolicy, type EgressSettings } from './providers/egress/from-env.js';
import type { ProviderRegistry } from './providers/registry.js';
import { CredentialCipher } from './secrets/credential-cipher.js';
import { taskQueuesFor } from './shared/task-queues.js';
import { startWorkerMetricsServer } from './metrics/worker-metrics.js';
import { retryAtStart, type RetryPolicy } from './start-up.js';
import { connectTemporalClient, connectTemporalWorker, temporalConnectConfig, temporalDataConverter } from './temporal/connection.js';
import { EncryptionCodec } from './temporal/payload-codec.js';
import { startTracing, type Tracing, type TracingSettings } from './tracing/tracing.js';
import { ensureHealthCheckSchedule } from './temporal/payments/health-schedule.js';
import { ensureReconciliationSchedule } from './temporal/payments/reconciliation-schedule.js';
import { ensureEventRetentionSchedule } from './temporal/events/event-retention-schedule.js';
import { ensureSearchAttributes } from './temporal/register-search-attributes.js';
import { createWorkers, loadWorkflowBundle, type WorkerSet } from './workers/worker.js';

type DatabaseSettings = Pick<Env, 'DATABASE_URL' | 'DATABASE_POOL_SIZE' | 'DATA_DIR' | 'STARTUP_RETRY_ATTEMPTS' | 'STARTUP_RETRY_DELAY_MS'>;
/** What createRuntime reads: the same for the API, the worker and dev. */
type RuntimeSettings = DatabaseSettings &
  Pick<Env, 'LOG_LEVEL' | 'LOG_FORMAT' | 'CREDENTIALS_KEYS'> &
  EgressSettings &
  Parameters<typeof buildProviderRegistry>[0] &
  TracingSettings;

/** Everything a process (API, worker or both) shares, built once from the parsed config. */
export interface Runtime<E extends RuntimeSettings = RuntimeSettings> {
  /** The process's whole parsed config, for what only it reads (appDeps, startWorkers). */
  env: E;
  database: Database;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  /** The one guarded path to tenant-supplied URLs (declarative providers, token URLs, connectors). */
  egress: EgressFetch;
  logger: Logger;
  /** OpenTelemetry tracing: off (no SDK loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracing: Tracing;
  close(): Promise<void>;
}

/** How entry points retry the database and Temporal while they come up. */
export function startupRetry(env: Pick<Env, 'STARTUP_RETRY_ATTEMPTS' | 'STARTUP_RETRY_DELAY_MS'>): RetryPolicy {
  return { attempts: env.STARTUP_RETRY_ATTEMPTS, delayMs: env.STARTUP_RETRY_DELAY_MS };
}

/**
 * Opens the database, Postgres at DATABASE_URL or else an embedded PGlite in DATA_DIR (the API and the
 * worker require DATABASE_URL at start), and migrates it, retrying while it comes up.
 */
export async function openDatabase(env: DatabaseSettings, logger: Logger): Promise<Database> {
  const database = env.DATABASE_URL
    ? connectPostgres(env.DATABASE_URL, { poolSize: env.DATABASE_POOL_SIZE })
    : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
  await retryAtStart('the database', () => database.migrate(), startupRetry(env), logger);
  return database;
}

/**
 * `logger`: the process logger when the entry point made one already (to install Temporal's Runtime with it).
 * `serviceName`: the process's name on its trace spans (default `switchyard`).
 */
export async function createRuntime<E extends RuntimeSettings>(
  env: E,
  opts: { logger?: Logger; serviceName?: string } = {},
): Promise<Runtime<E>> {
  if (!env.CREDENTIALS_KEYS) {
    throw new ConfigError('Missing configuration: CREDENTIALS_KEYS (e.g. k1:$(openssl rand -base64 32))');
  }
  const logger = opts.logger ?? createLogger(env.LOG_LEVEL, {}, { format: env.LOG_FORMAT });
  const database = await openDatabase(env, logger);
  const egress = await createEgressFromEnv(env);
  const tracing = await startTracing(env, opts.serviceName ?? 'switchyard');
  if (tracing.enabled) logger.info('tracing on', { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT });
  return {
    env,
    database,
    cipher: new CredentialCipher(env.CREDENTIALS_KEYS),
    providers: await buildProviderRegistry(env, (tenantId, name) => findProviderDefinition(database.db, tenantId, name), egress),
    egress,
    logger,
    tracing,
    close: async () => {
      await database.close();
      await egress.close();
      await tracing.shutdown();
    },
  };
}

/** The API's dependencies from a runtime: the one place the entry points translate settings for it. */
export function appDeps(runtime: Runtime<ApiEnv>, temporal: Client, adminToken: string): AppDeps {
  const { env } = runtime;
  return {
    ...runtime,
    temporal,
    adminToken,
    ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
    urlPolicy: outboundUrlPolicy(env),
    taskQueues: taskQueuesFor(env.TASK_QUEUE_SUFFIX),
    paymentTiming: {
      callbackTimeoutMs: env.PAYMENT_CALLBACK_TIMEOUT_SECONDS * 1000,
      ambiguousResolutionMs: env.PAYMENT_RESOLUTION_WINDOW_SECONDS * 1000,
      aftercareWindowMs: env.PAYMENT_AFTERCARE_WINDOW_SECONDS * 1000,
    },
    trustProxy: env.TRUST_PROXY,
    erpUploadMaxBytes: env.ERP_UPLOAD_MAX_BYTES,
    quotas: {
      connections: env.TENANT_MAX_CONNECTIONS,
      erp_integrations: env.TENANT_MAX_ERP_INTEGRATIONS,
      provider_definitions: env.TENANT_MAX_PROVIDER_DEFINITIONS,
      api_keys: env.TENANT_MAX_API_KEYS,
      webhook_endpoints: env.TENANT_MAX_WEBHOOK_ENDPOINTS,
      upload_bytes: env.TENANT_MAX_UPLOAD_BYTES,
      concurrent_uploads: env.TENANT_MAX_CONCURRENT_UPLOADS,
      erp_min_poll_interval_seconds: env.ERP_MIN_POLL_INTERVAL_SECONDS,
    },
    rateLimits: {
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      tenant: env.RATE_LIMIT_PER_TENANT,
      ip: env.RATE_LIMIT_PER_IP,
      webhook: env.RATE_LIMIT_PER_WEBHOOK_CONNECTION,
    },
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
    ...(env.PAYLOAD_CODEC_KEYS ? { payloadCodec: new EncryptionCodec(env.PAYLOAD_CODEC_KEYS) } : {}),
    codecCorsOrigin: new URL(env.TEMPORAL_UI_URL).origin,
  };
}

export interface RunningWorkers {
  workers: WorkerSet;
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** The worker's Prometheus endpoint, when WORKER_METRICS_PORT is set. */
  metricsUrl?: string;
  /** Graceful: stop polling, let in-flight tasks finish (WORKER_SHUTDOWN_GRACE_SECONDS), close the connections. */
  stop(): Promise<void>;
}

/**
 * Connects (retrying while Temporal comes up), makes sure the search attributes exist, loads the
 * workflow bundle, starts one worker per task queue, the health-check Schedule and the metrics endpoint.
 */
export async function startWorkers(runtime: Runtime<WorkerEnv>): Promise<RunningWorkers> {
  const { env, logger } = runtime;
  const dataConverter = temporalDataConverter(env);
  const taskQueues = taskQueuesFor(env.TASK_QUEUE_SUFFIX);
  const { namespace } = temporalConnectConfig(env);
  const connection = await retryAtStart('Temporal', () => connectTemporalWorker(env), startupRetry(env), logger);
  const client = await connectTemporalClient(env, runtime.tracing.clientInterceptors);
  const { registered } = await ensureSearchAttributes(client, namespace);
  if (registered.length > 0) logger.info('registered search attributes', { namespace, registered });
  const workflowBundle = await loadWorkflowBundle(env.WORKFLOW_BUNDLE_PATH, { traced: runtime.tracing.enabled });
  logger.info('workflow bundle', { source: 'codePath' in workflowBundle ? workflowBundle.codePath : 'bundled at start' });
  const workers = await createWorkers({
    connection,
    namespace,
    deps: {
      db: runtime.database.db,
      cipher: runtime.cipher,
      providers: runtime.providers,
      erpUrlPolicy: outboundUrlPolicy(env),
      erpFetch: runtime.egress,
      erpLimits: {
        maxRecordBytes: env.ERP_MAX_RECORD_BYTES,
        maxFieldBytes: env.ERP_MAX_FIELD_BYTES,
        maxPageBytes: env.ERP_MAX_PAGE_BYTES,
        maxPageRecords: env.ERP_MAX_PAGE_RECORDS,
      },
      webhookFetch: runtime.egress,
      webhookSettings: {
        timeoutMs: env.WEBHOOK_TIMEOUT_MS,
        retryWindowMs: env.WEBHOOK_RETRY_HOURS * 3_600_000,
        firstRetryDelayMs: env.WEBHOOK_RETRY_FIRST_DELAY_SECONDS * 1000,
        maxRetryDelayMs: env.WEBHOOK_RETRY_MAX_DELAY_SECONDS * 1000,
        disableAfterMs: env.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
      },
    },
    workflowBundle,
    taskQueues,
    ...(env.WORKER_TASK_QUEUES ? { families: env.WORKER_TASK_QUEUES } : {}),
    listen: runtime.database.listen,
    shutdownGraceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS,
    activitySlots: env.WORKER_ACTIVITY_SLOTS ?? 4 * env.DATABASE_POOL_SIZE,
    ...(env.TENANT_MAX_PROVIDER_CALLS ? { tenantProviderCalls: env.TENANT_MAX_PROVIDER_CALLS } : {}),
    dataConverter,
    tracing: runtime.tracing,
  });
  const done = workers.run();
  await ensureHealthCheckSchedule(client, taskQueues, env.HEALTH_CHECK_INTERVAL_SECONDS, env.TASK_QUEUE_SUFFIX);
  await ensureReconciliationSchedule(client, taskQueues, {
    everySeconds: env.RECONCILIATION_INTERVAL_SECONDS,
    olderThanMs: env.PAYMENT_RESOLUTION_WINDOW_SECONDS * 1000,
    paymentTiming: {
      callbackTimeoutMs: env.PAYMENT_CALLBACK_TIMEOUT_SECONDS * 1000,
      ambiguousResolutionMs: env.PAYMENT_RESOLUTION_WINDOW_SECONDS * 1000,
      aftercareWindowMs: env.PAYMENT_AFTERCARE_WINDOW_SECONDS * 1000,
    },
    ...(env.TASK_QUEUE_SUFFIX ? { suffix: env.TASK_QUEUE_SUFFIX } : {}),
  });
  await ensureEventRetentionSchedule(client, taskQueues, {
    retentionDays: env.EVENTS_RETENTION_DAYS,
    ...(env.TASK_QUEUE_SUFFIX ? { suffix: env.TASK_QUEUE_SUFFIX } : {}),
  });
  await client.connection.close();
  const metrics =
    env.WORKER_METRICS_PORT === undefined
      ? undefined
      : await startWorkerMetricsServer({
          db: runtime.database.db,
          providers: runtime.providers,
          host: env.HOST,
          port: env.WORKER_METRICS_PORT,
          ...(env.TEMPORAL_METRICS_PORT ? { temporalMetricsUrl: `http://127.0.0.1:${env.TEMPORAL_METRICS_PORT}/metrics` } : {}),
        });
  return {
    workers,
    done,
    ...(metrics ? { metricsUrl: metrics.url } : {}),
    stop: async () => {
      workers.shutdown();
      await done;
      await metrics?.close();
      await connection.close();
    },
  };
}
