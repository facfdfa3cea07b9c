import type { Client } from '@temporalio/client';
import type { EventRetentionInput } from '../../shared/event-messages.js';
import { PLATFORM_PRIORITY } from '../../shared/fairness.js';
import type { TaskQueues } from '../../shared/task-queues.js';
import { upsertSchedule } from '../schedules.js';
import { scheduledStart } from '../start-workflow.js';

export const EVENT_RETENTION_SCHEDULE_ID = 'event-retention';

/**
 * Creates (or updates) the Schedule that deletes events older than `retentionDays`, every
 * `everySeconds` (hourly by default: each run deletes about an hour's worth, never a month's).
 */
export async function ensureEventRetentionSchedule(
  client: Client,
  queues: TaskQueues,
  opts: { retentionDays: number; everySeconds?: number; suffix?: string },
): Promise<string> {
  const scheduleId = opts.suffix ? `${EVENT_RETENTION_SCHEDULE_ID}-${opts.suffix}` : EVENT_RETENTION_SCHEDULE_ID;
  const args: [EventRetentionInput] = [{ retentionDays: opts.retentionDays }];
  await upsertSchedule(client, {
    scheduleId,
    spec: { intervals: [{ every: `${opts.everySeconds ?? 3600}s` }] },
    action: scheduledStart('eventRetentionWorkflow', { taskQueue: queues.events, workflowId: `${scheduleId}-run`, args, priority: PLATFORM_PRIORITY }),
  });
  return scheduleId;
}
