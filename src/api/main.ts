import { parseEnv, requireSettings } from '../config/env.js';
import { appDeps, createRuntime } from '../runtime.js';
import { connectTemporalClient } from '../temporal/connection.js';
import { createApp } from './app.js';
import { listen } from './server.js';

/** API entry point: `npm run api`. Stops gracefully on SIGINT/SIGTERM. */
const env = requireSettings(parseEnv(process.env), ['ADMIN_TOKEN']);
const runtime = await createRuntime(env, { allowEmbeddedDb: false });
const temporal = await connectTemporalClient(env);
const http = await listen(createApp(appDeps(runtime, temporal, env.ADMIN_TOKEN)), env.HOST, env.PORT);
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
