// Baseline worker process: `tsx bench/baseline/worker.ts` with BENCH_* variables set by bench/run.ts.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import postgres from 'postgres';
import { createBaselineActivities } from './activities.js';
import { requiredEnv } from './env.js';

const env = requiredEnv;

const sql = postgres(env('BENCH_DATABASE_URL'), { max: 10, onnotice: () => {} });
const connection = await NativeConnection.connect({ address: env('BENCH_TEMPORAL_ADDRESS') });
const worker = await Worker.create({
  connection,
  taskQueue: env('BENCH_TASK_QUEUE'),
  workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  bundlerOptions: { ignoreModules: [] },
  activities: createBaselineActivities({
    sql,
    gatewayUrl: process.env.BENCH_GATEWAY_URL ?? '',
    authorization: process.env.BENCH_GATEWAY_AUTH ?? '',
    ...(process.env.BENCH_STRIPE_URL ? { stripeUrl: process.env.BENCH_STRIPE_URL, stripeAuthorization: env('BENCH_STRIPE_AUTH') } : {}),
  }),
});
process.once('SIGTERM', () => worker.shutdown());
console.log('baseline worker running');
await worker.run();
await sql.end();
await connection.close();
