/**
 * The process families a worker can serve, one task queue each, so a rate-limited provider can be
 * throttled on its own queue (WORKER_TASK_QUEUES picks some). Adding a family starts here: its name
 * in this list; src/workers/families.ts then fails to compile until the family registers its activities.
 */
export const TASK_QUEUE_FAMILIES = [
  'payments',
  'connections',
  /** Customer sync (entity workflows and their calls to remote systems). */
  'customers',
  /** ERP polling: slow, rate-limited sources kept off the payment queues. */
  'erp',
  /** Webhooks to the merchant: the event relay and the per-endpoint, per-resource delivery workflows. */
  'events',
] as const;

export type TaskQueueFamily = (typeof TASK_QUEUE_FAMILIES)[number];

/** The task queue of each family. */
export type TaskQueues = Record<TaskQueueFamily, string>;

function queuesNamed(name: (family: TaskQueueFamily) => string): TaskQueues {
  return Object.fromEntries(TASK_QUEUE_FAMILIES.map((family) => [family, name(family)])) as TaskQueues;
}

export const DEFAULT_TASK_QUEUES: TaskQueues = queuesNamed((family) => `switchyard-${family}`);

/** Isolated queue names (tests run one worker set per suite on a shared Temporal server). */
export function taskQueuesWithSuffix(suffix: string): TaskQueues {
  return queuesNamed((family) => `${DEFAULT_TASK_QUEUES[family]}-${suffix}`);
}

export function taskQueuesFor(suffix: string | undefined): TaskQueues {
  return suffix ? taskQueuesWithSuffix(suffix) : DEFAULT_TASK_QUEUES;
}
