/** One task queue per concern, so a rate-limited provider can be throttled on its own queue. */
export interface TaskQueues {
  payments: string;
  connections: string;
  /** Customer sync (entity workflows and their calls to remote systems). */
  customers: string;
  /** ERP polling: slow, rate-limited sources kept off the payment queues. */
  erp: string;
}

/** The process families a worker can serve, one task queue each (WORKER_TASK_QUEUES picks some). */
export type TaskQueueFamily = keyof TaskQueues;
export const TASK_QUEUE_FAMILIES = ['payments', 'connections', 'customers', 'erp'] as const satisfies readonly TaskQueueFamily[];

export const DEFAULT_TASK_QUEUES: TaskQueues = {
  payments: 'switchyard-payments',
  connections: 'switchyard-connections',
  customers: 'switchyard-customers',
  erp: 'switchyard-erp',
};

/** Isolated queue names (tests run one worker set per suite on a shared Temporal server). */
export function taskQueuesWithSuffix(suffix: string): TaskQueues {
  return {
    payments: `${DEFAULT_TASK_QUEUES.payments}-${suffix}`,
    connections: `${DEFAULT_TASK_QUEUES.connections}-${suffix}`,
    customers: `${DEFAULT_TASK_QUEUES.customers}-${suffix}`,
    erp: `${DEFAULT_TASK_QUEUES.erp}-${suffix}`,
  };
}

export function taskQueuesFor(suffix: string | undefined): TaskQueues {
  return suffix ? taskQueuesWithSuffix(suffix) : DEFAULT_TASK_QUEUES;
}
