import type { WorkerEnv } from '../config/env.js';
import { startWorkerMetricsServer } from '../metrics/worker-metrics.js';
import { outboundUrlPolicy } from '../providers/egress/from-env.js';
import { startupRetry, type Runtime } from '../runtime.js';
import { taskQueuesFor } from '../shared/task-queues.js';
import { retryAtStart } from '../start-up.js';
import { connectTemporalClient, connectTemporalWorker, temporalConnectConfig, temporalDataConverter } from '../temporal/connection.js';
import { ensureEventRetentionSchedule } from '../temporal/events/event-retention-schedule.js';
import { ensureHealthCheckSchedule } from '../temporal/payments/health-schedule.js';
import { ensureReconciliationSchedule } from '../temporal/payments/reconciliation-schedule.js';
import { ensureSearchAttributes } from '../temporal/register-search-attributes.js';
import { createWorkers, loadWorkflowBundle, type WorkerSet } from './worker.js';

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
        maxDecompressedBytes: env.ERP_MAX_DECOMPRESSED_BYTES,
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
