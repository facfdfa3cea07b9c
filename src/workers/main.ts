import { parseEnv } from '../config/env.js';
import { createRuntime, startWorkers } from '../runtime.js';

/** Worker entry point: `npm run worker`. Stops gracefully on SIGINT/SIGTERM (in-flight tasks finish). */
const env = parseEnv(process.env);
const runtime = await createRuntime(env, { allowEmbeddedDb: false });
const running = await startWorkers(runtime);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runtime.logger.info('worker shutting down', { signal });
    void running.stop().then(() => runtime.close());
  });
}
runtime.logger.info('worker running', { taskQueues: running.workers.workers.map((w) => w.options.taskQueue) });
await running.done;
