import { parseEnv } from '../config/env.js';
import { createRuntime } from '../runtime.js';
import { taskQueuesFor } from '../shared/task-queues.js';
import { connectTemporalClient, connectTemporalWorker } from '../temporal/connection.js';
import { ensureHealthCheckSchedule } from '../temporal/health-schedule.js';
import { bundleWorkflows, createWorkers } from './worker.js';

/** Worker entry point: `npm run worker`. Stops gracefully on SIGINT/SIGTERM (in-flight tasks finish). */
const env = parseEnv(process.env);
const runtime = await createRuntime(env, { allowEmbeddedDb: false });
const taskQueues = taskQueuesFor(env.TASK_QUEUE_SUFFIX);
const connection = await connectTemporalWorker(env);
const workers = await createWorkers({
  connection,
  namespace: env.TEMPORAL_NAMESPACE,
  deps: { db: runtime.database.db, cipher: runtime.cipher, providers: runtime.providers },
  workflowBundle: await bundleWorkflows(),
  taskQueues,
});
const client = await connectTemporalClient(env);
await ensureHealthCheckSchedule(client, taskQueues, env.HEALTH_CHECK_INTERVAL_SECONDS, env.TASK_QUEUE_SUFFIX);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runtime.logger.info('worker shutting down', { signal });
    workers.shutdown();
  });
}
runtime.logger.info('worker running', { taskQueues });
await workers.run();
await client.connection.close();
await connection.close();
await runtime.close();
