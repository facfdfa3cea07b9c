import { parseEnv } from '../config/env.js';
import { createRuntime } from '../runtime.js';
import { connectTemporalWorker } from '../temporal/connection.js';
import { bundleWorkflows, createWorkers } from './worker.js';

/** Worker entry point: `npm run worker`. Stops gracefully on SIGINT/SIGTERM (in-flight tasks finish). */
const env = parseEnv(process.env);
const runtime = await createRuntime(env, { allowEmbeddedDb: false });
const connection = await connectTemporalWorker(env);
const workers = await createWorkers({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  deps: { db: runtime.database.db, cipher: runtime.cipher, providers: runtime.providers },
  workflowBundle: await bundleWorkflows(),
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runtime.logger.info('worker shutting down', { signal });
    workers.shutdown();
  });
}
runtime.logger.info('worker running', { taskQueues: workers.workers.map((w) => w.options.taskQueue) });
await workers.run();
await connection.close();
await runtime.close();
