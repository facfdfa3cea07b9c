import { apiSchema, parseEnv, requireSettings } from '../config/env.js';
import { createRuntime, startupRetry } from '../runtime.js';
import { appDeps } from './deps.js';
import { runEntryPoint, retryAtStart } from '../start-up.js';
import { startApiMetricsServer } from '../metrics/api-metrics.js';
import { connectTemporalClient } from '../temporal/connection.js';
import { createApp } from './app.js';
import { listen } from './server.js';

/**
 * API entry point: `npm run api` (development, tsx) or `npm run start:api` (compiled). On
 * SIGINT/SIGTERM it stops accepting, lets in-flight requests finish within API_SHUTDOWN_TIMEOUT_SECONDS.
 */
runEntryPoint('api', async () => {
  const env = requireSettings(parseEnv(apiSchema, process.env), ['DATABASE_URL', 'CREDENTIALS_KEYS', 'PAYLOAD_CODEC_KEYS', 'ADMIN_TOKEN']);
  const runtime = await createRuntime(env, { serviceName: 'switchyard-api' });
  const temporal = await retryAtStart('Temporal', () => connectTemporalClient(env, runtime.tracing.clientInterceptors), startupRetry(env), runtime.logger);
  const http = await listen(createApp(appDeps(runtime, temporal, env.ADMIN_TOKEN)), env.HOST, env.PORT);
  runtime.logger.info('api listening', { url: http.url });
  const metrics = env.METRICS_PORT === undefined ? undefined : await startApiMetricsServer(runtime.database.db, runtime.providers, env.HOST, env.METRICS_PORT);
  if (metrics) runtime.logger.info('api metrics listening', { url: metrics.url });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      runtime.logger.info('api shutting down', { signal, timeoutSeconds: env.API_SHUTDOWN_TIMEOUT_SECONDS });
      void http
        .close(env.API_SHUTDOWN_TIMEOUT_SECONDS * 1000)
        .then(() => metrics?.close())
        .then(() => temporal.connection.close())
        .then(() => runtime.close())
        .then(() => runtime.logger.info('api stopped'));
    });
  }
});
