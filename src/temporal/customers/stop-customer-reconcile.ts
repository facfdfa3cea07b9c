import type { Client } from '@temporalio/client';
import { workflowId } from '../../shared/workflow-ids.js';
import { deleteScheduleIfExists } from '../schedules.js';
import { terminateRunning, visibilityValue } from '../terminate-workflows.js';

/**
 * Stops the customer reconciliation of a deleted connection: its schedule, the manual run (backfill,
 * API: one deterministic id) and any run the schedule started (found by Temporal's
 * TemporalScheduledById search attribute). Customer entity workflows are per customer and serve the
 * tenant's other connections too, so they stay; a push to the gone connection fails as
 * ConnectionUnavailable, which is not retried.
 */
export async function stopCustomerReconcile(client: Client, connectionId: string): Promise<void> {
  const scheduleId = workflowId.customerReconcileSchedule(connectionId);
  await deleteScheduleIfExists(client, scheduleId);
  await terminateRunning(
    client,
    { query: `TemporalScheduledById = ${visibilityValue(scheduleId)}`, ids: [workflowId.customerReconcile(connectionId)] },
    `connection ${connectionId} was deleted`,
  );
}
