import { parseEnv, requireSettings, workerSchema } from '../config/env.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../runtime.js';
import { startWorkers } from './start-workers.js';
import { runEntryPoint } from '../start-up.js';
import { installTemporalRuntime } from './temporal-runtime.js';

/**
 * Worker entry point: `npm run worker` (development, tsx) or `npm run start:worker` (compiled).
 * On SIGINT/SIGTERM it stops polling and lets in-flight activities finish within
 * WORKER_SHUTDOWN_GRACE_SECONDS.
 */
/** Cancelled activities get this long to notice and report before the process exits. */
const EXIT_AFTER_GRACE_SECONDS = 5;

runEntryPoint('worker', async () => {
  const env = requireSettings(parseEnv(workerSchema, process.env), ['DATABASE_URL', 'CREDENTIALS_KEYS', 'PAYLOAD_CODEC_KEYS']);
  const logger = createLogger(env.LOG_LEVEL, {}, { format: env.LOG_FORMAT });
  // Merged into the worker's /metrics when that is on, so only loopback needs to reach it then.
  const metricsHost = env.WORKER_METRICS_PORT === undefined ? env.HOST : '127.0.0.1';
  installTemporalRuntime({
    logger,
    ...(env.TEMPORAL_METRICS_PORT ? { metricsBindAddress: `${metricsHost}:${env.TEMPORAL_METRICS_PORT}` } : {}),
  });
  const runtime = await createRuntime(env, { logger, serviceName: 'switchyard-worker' });
  const running = await startWorkers(runtime);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info('worker shutting down', { signal, graceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS });
      // An activity that ignores cancellation (a hung gateway call) must not hold a deploy: after the
      // grace period and a margin the process goes, and Temporal retries that activity elsewhere
      // (the same as a crash, which every activity is written to survive).
      setTimeout(() => {
        logger.warn('shutdown grace period over: exiting with activities still running; Temporal retries them on another worker', {
          graceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS,
        });
        process.exit(0);
      }, (env.WORKER_SHUTDOWN_GRACE_SECONDS + EXIT_AFTER_GRACE_SECONDS) * 1000).unref();
      void running.stop().then(() => runtime.close());
    });
  }
  logger.info('worker running', {
    taskQueues: running.workers.workers.map((w) => w.options.taskQueue),
    ...(running.metricsUrl ? { metrics: running.metricsUrl } : {}),
  });
  await running.done;
  logger.info('worker stopped');
});
