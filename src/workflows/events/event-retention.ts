import { log, proxyActivities } from '@temporalio/workflow';
import type { EventRetentionActivities } from '../../activities/events/event-retention-activities.js';
import type { EventRetentionInput } from '../../shared/event-messages.js';
import { retentionSweep } from '../activity-options.js';

const sweep = proxyActivities<Pick<EventRetentionActivities, 'deleteExpiredEvents'>>(retentionSweep);

/** Started by the event retention Schedule: deletes events older than the retention period (30 days by default). */
export async function eventRetentionWorkflow(input: EventRetentionInput): Promise<{ deleted: number }> {
  const result = await sweep.deleteExpiredEvents(input);
  log.info('expired events deleted', { deleted: result.deleted, retentionDays: input.retentionDays });
  return result;
}
