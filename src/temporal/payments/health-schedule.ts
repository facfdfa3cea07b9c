import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { TaskQueues } from '../../shared/task-queues.js';
import { scheduledStart } from '../start-workflow.js';

export const HEALTH_SCHEDULE_ID = 'connection-health-checks';

/** Creates (or updates) the Schedule that runs healthCheckWorkflow every `everySeconds`. */
export async function ensureHealthCheckSchedule(client: Client, queues: TaskQueues, everySeconds: number, suffix?: string): Promise<void> {
  const scheduleId = suffix ? `${HEALTH_SCHEDULE_ID}-${suffix}` : HEALTH_SCHEDULE_ID;
  const action = scheduledStart('healthCheckWorkflow', { taskQueue: queues.payments, workflowId: `${scheduleId}-run`, args: [] });
  const spec = { intervals: [{ every: `${everySeconds}s` as const }] };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
  }
}
