import type { Client } from '@temporalio/client';
import type { TaskQueues } from '../../shared/task-queues.js';
import { upsertSchedule } from '../schedules.js';
import { scheduledStart } from '../start-workflow.js';
import { PLATFORM_PRIORITY } from '../../shared/fairness.js';

export const HEALTH_SCHEDULE_ID = 'connection-health-checks';

/** Creates (or updates) the Schedule that runs healthCheckWorkflow every `everySeconds`. */
export async function ensureHealthCheckSchedule(client: Client, queues: TaskQueues, everySeconds: number, suffix?: string): Promise<void> {
  const scheduleId = suffix ? `${HEALTH_SCHEDULE_ID}-${suffix}` : HEALTH_SCHEDULE_ID;
  await upsertSchedule(client, {
    scheduleId,
    spec: { intervals: [{ every: `${everySeconds}s` }] },
    action: scheduledStart('healthCheckWorkflow', { taskQueue: queues.payments, workflowId: `${scheduleId}-run`, args: [], priority: PLATFORM_PRIORITY }),
  });
}
