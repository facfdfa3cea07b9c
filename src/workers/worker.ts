import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createConnectionActivities } from '../activities/connection-activities.js';
import { createHealthActivities } from '../activities/health-activities.js';
import { createPaymentActivities, type PaymentActivityDeps } from '../activities/payment-activities.js';
import { DEFAULT_TASK_QUEUES, type TaskQueues } from '../shared/task-queues.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; pass the result to every worker (and test) that needs it. */
export async function bundleWorkflows(): Promise<WorkflowBundleOption> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return { code };
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

export type WorkerDeps = PaymentActivityDeps;

export interface WorkerSet {
  workers: Worker[];
  /** Runs every worker until shutdown() or a fatal error. */
  run(): Promise<void>;
  shutdown(): void;
}

/** One worker per task queue (concern), sharing one connection and one workflow bundle. */
export async function createWorkers(opts: {
  connection: NativeConnection;
  namespace: string;
  deps: WorkerDeps;
  workflowBundle: WorkflowBundleOption;
  taskQueues?: TaskQueues;
}): Promise<WorkerSet> {
  const queues = opts.taskQueues ?? DEFAULT_TASK_QUEUES;
  const common = { connection: opts.connection, namespace: opts.namespace, workflowBundle: opts.workflowBundle };
  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: queues.connections,
      activities: createConnectionActivities(opts.deps),
    }),
    Worker.create({
      ...common,
      taskQueue: queues.payments,
      activities: { ...createPaymentActivities(opts.deps), ...createHealthActivities(opts.deps) },
    }),
  ]);
  return {
    workers,
    run: async () => {
      await Promise.all(workers.map((w) => w.run()));
    },
    shutdown: () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
