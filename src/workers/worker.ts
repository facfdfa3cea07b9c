import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { Database } from '../db/client.js';
import { DEFAULT_TASK_QUEUES, TASK_QUEUE_FAMILIES, type TaskQueueFamily, type TaskQueues } from '../shared/task-queues.js';
import { failureConverterPath } from '../temporal/payload-codec.js';
import { tracingWorkflowInterceptorModule, type Tracing } from '../tracing/tracing.js';
import { FAMILIES, type BackgroundService, type FamilyContext, type FamilyRegistration, type WorkerDeps } from './families.js';
import { TenantCallLimiter, tenantShareInterceptor } from './tenant-share.js';

// Compiled (dist/) this module is .js and so is the workflow entry; under tsx both are .ts.
const compiled = import.meta.url.endsWith('.js');
export const workflowsPath = fileURLToPath(new URL(`../workflows/index.${compiled ? 'js' : 'ts'}`, import.meta.url));
/** Where `npm run build` writes the bundle: dist/workflow-bundle.js, next to the compiled code. */
export const prebuiltBundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
/** The same with the OpenTelemetry workflow interceptors, for workers with tracing on. */
export const prebuiltTracedBundlePath = fileURLToPath(new URL('../workflow-bundle-traced.js', import.meta.url));

/**
 * Bundles the workflow code once; pass the result to every worker (and test) that needs it. `traced`:
 * with the OpenTelemetry workflow interceptors (only for workers with tracing on).
 */
export async function bundleWorkflows(opts: { traced?: boolean } = {}): Promise<WorkflowBundleOption> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    failureConverterPath,
    logger: quietBundlerLogger,
    ...(opts.traced ? { workflowInterceptorModules: [tracingWorkflowInterceptorModule] } : {}),
  });
  return { code };
}

/**
 * Production workers load the bundle built by `npm run build` (no webpack at start, and the code that
 * runs is the code that was tested and shipped); development bundles at start.
 */
export async function loadWorkflowBundle(explicitPath?: string, opts: { traced?: boolean } = {}): Promise<WorkflowBundleOption> {
  if (explicitPath) return { codePath: explicitPath };
  const prebuilt = opts.traced ? prebuiltTracedBundlePath : prebuiltBundlePath;
  if (compiled && existsSync(prebuilt)) return { codePath: prebuilt };
  return bundleWorkflows(opts);
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

export type { WorkerDeps } from './families.js';

/** The SDK's default of concurrent activities per worker. */
const SDK_ACTIVITY_SLOTS = 100;

/** A quarter of the slots, at least 2: the calls a tenant always gets, and what borrowing always leaves to the others. */
export function defaultTenantProviderCalls(activitySlots: number): number {
  return Math.max(2, Math.floor(activitySlots / 4));
}

export interface WorkerSet {
  workers: Worker[];
  /** Runs every worker until shutdown() or a fatal error. */
  run(): Promise<void>;
  shutdown(): void;
}

/** One worker per task queue (concern) this process serves, sharing one connection and one workflow bundle. */
export async function createWorkers(opts: {
  connection: NativeConnection;
  namespace: string;
  deps: WorkerDeps;
  workflowBundle: WorkflowBundleOption;
  taskQueues?: TaskQueues;
  /** The families this process serves (default: all); e.g. only `erp` for a deployment of ERP workers. */
  families?: readonly TaskQueueFamily[];
  /** The database's LISTEN (Database.listen): the customer outbox relay wakes on each committed change. */
  listen?: Database['listen'];
  /** After shutdown(), how long in-flight activities may run before they are cancelled (SDK default 0). */
  shutdownGraceSeconds?: number;
  /**
   * Concurrent activities, and separately local activities, per task queue (SDK default 100 each).
   * Most of them query the database, so the runtime sizes this from the pool: a slot beyond what the
   * pool can serve only waits for a connection inside the activity's timeout.
   */
  activitySlots?: number;
  /**
   * Provider calls (src/workers/tenant-share.ts) one tenant may always have running in this process,
   * and how many the worker keeps free for the others when a tenant borrows beyond it; default: a
   * quarter of the activity slots (at least 2).
   */
  tenantProviderCalls?: number;
  /** The payload codec (must match the clients'). */
  dataConverter?: DataConverter;
  /** Tracing interceptors and the workflow-span sink, when tracing is on. */
  tracing?: Pick<Tracing, 'worker' | 'clientInterceptors'>;
}): Promise<WorkerSet> {
  const queues = opts.taskQueues ?? DEFAULT_TASK_QUEUES;
  const slots = opts.activitySlots ?? SDK_ACTIVITY_SLOTS;
  const limiter = new TenantCallLimiter(opts.tenantProviderCalls ?? defaultTenantProviderCalls(slots), slots);
  const common = {
    connection: opts.connection,
    namespace: opts.namespace,
    workflowBundle: opts.workflowBundle,
    // After the grace period in-flight activities are cancelled (the entry point bounds the rest).
    ...(opts.shutdownGraceSeconds !== undefined ? { shutdownGraceTime: opts.shutdownGraceSeconds * 1000 } : {}),
    ...(opts.activitySlots !== undefined
      ? { maxConcurrentActivityTaskExecutions: opts.activitySlots, maxConcurrentLocalActivityExecutions: opts.activitySlots }
      : {}),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...opts.tracing?.worker,
    interceptors: {
      ...opts.tracing?.worker?.interceptors,
      // The tenant's share first: a refused call never opens a span or reaches a provider.
      activity: [tenantShareInterceptor(limiter), ...(opts.tracing?.worker?.interceptors?.activity ?? [])],
    },
  };
  const client = new Client({
    connection: opts.connection,
    namespace: opts.namespace,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.tracing?.clientInterceptors ? { interceptors: opts.tracing.clientInterceptors } : {}),
  });
  const ctx: FamilyContext = { deps: opts.deps, client, queues, ...(opts.listen ? { listen: opts.listen } : {}) };
  const families = opts.families ?? TASK_QUEUE_FAMILIES;
  const workers = await Promise.all(
    families.map((family) => Worker.create({ ...common, taskQueue: queues[family], activities: FAMILIES[family].activities(ctx) })),
  );
  const services: BackgroundService[] = families.flatMap((family) => {
    const registration: FamilyRegistration = FAMILIES[family];
    return registration.background ? [registration.background(ctx)] : [];
  });
  return {
    workers,
    run: async () => {
      for (const service of services) service.start();
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await Promise.all(services.map((service) => service.stop()));
      }
    },
    shutdown: () => {
      for (const service of services) void service.stop();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
