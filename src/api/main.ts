import { parseEnv, requireSettings } from '../config/env.js';
import { taskQueuesFor } from '../shared/task-queues.js';
import { createRuntime } from '../runtime.js';
import { connectTemporalClient } from '../temporal/connection.js';
import { createApp } from './app.js';
import { listen } from './server.js';

/** API entry point: `npm run api`. Stops gracefully on SIGINT/SIGTERM. */
const env = requireSettings(parseEnv(process.env), ['ADMIN_TOKEN']);
const runtime = await createRuntime(env, { allowEmbeddedDb: false });
const temporal = await connectTemporalClient(env);
const app = createApp({
  ...runtime,
  temporal,
  adminToken: env.ADMIN_TOKEN,
  urlPolicy: { allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS },
  taskQueues: taskQueuesFor(env.TASK_QUEUE_SUFFIX),
  paymentTiming: { callbackTimeoutMs: env.PAYMENT_CALLBACK_TIMEOUT_SECONDS * 1000 },
  publicUrl: env.PUBLIC_URL,
});
const http = await listen(app, env.HOST, env.PORT);
runtime.logger.info('api listening', { url: http.url });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runtime.logger.info('api shutting down', { signal });
    void http
      .close()
      .then(() => temporal.connection.close())
      .then(() => runtime.close());
  });
}
