/** One task queue per concern, so a rate-limited provider can be throttled on its own queue. */
export interface TaskQueues {
  payments: string;
  connections: string;
}

export const DEFAULT_TASK_QUEUES: TaskQueues = {
  payments: 'switchyard-payments',
  connections: 'switchyard-connections',
};

/** Isolated queue names (tests run one worker set per suite on a shared Temporal server). */
export function taskQueuesWithSuffix(suffix: string): TaskQueues {
  return {
    payments: `${DEFAULT_TASK_QUEUES.payments}-${suffix}`,
    connections: `${DEFAULT_TASK_QUEUES.connections}-${suffix}`,
  };
}

export function taskQueuesFor(suffix: string | undefined): TaskQueues {
  return suffix ? taskQueuesWithSuffix(suffix) : DEFAULT_TASK_QUEUES;
}
