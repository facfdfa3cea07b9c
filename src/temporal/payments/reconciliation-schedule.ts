import type { Client } from '@temporalio/client';
import type { PaymentTiming, ReconciliationInput } from '../../shared/payment-messages.js';
import type { TaskQueues } from '../../shared/task-queues.js';
import { upsertSchedule } from '../schedules.js';
import { scheduledStart } from '../start-workflow.js';
import { PLATFORM_PRIORITY } from '../../shared/fairness.js';

export const RECONCILIATION_SCHEDULE_ID = 'payment-reconciliation';

/** Creates (or updates) the Schedule that runs reconciliationWorkflow every `everySeconds`. */
export async function ensureReconciliationSchedule(
  client: Client,
  queues: TaskQueues,
  opts: { everySeconds: number; olderThanMs: number; suffix?: string; paymentTiming?: Partial<PaymentTiming> },
): Promise<string> {
  const scheduleId = opts.suffix ? `${RECONCILIATION_SCHEDULE_ID}-${opts.suffix}` : RECONCILIATION_SCHEDULE_ID;
  const args: [ReconciliationInput] = [{ olderThanMs: opts.olderThanMs, ...(opts.paymentTiming ? { paymentTiming: opts.paymentTiming } : {}) }];
  await upsertSchedule(client, {
    scheduleId,
    spec: { intervals: [{ every: `${opts.everySeconds}s` }] },
    action: scheduledStart('reconciliationWorkflow', { taskQueue: queues.payments, workflowId: `${scheduleId}-run`, args, priority: PLATFORM_PRIORITY }),
  });
  return scheduleId;
}
