/**
 * Pauses, resumes or deletes an integration's Schedules. Apart from erp-schedules.ts (which builds
 * their start actions from the workflow types) so that activities can pause them without importing
 * the workflow side.
 */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { workflowId } from '../../shared/workflow-ids.js';

/** Pauses, resumes or deletes the schedules of the given entities; missing schedules are skipped. */
export async function changeErpSchedules(
  client: Client,
  integrationId: string,
  entities: string[],
  change: { op: 'pause'; note: string } | { op: 'resume' } | { op: 'delete' },
): Promise<void> {
  for (const entity of entities) {
    const handle = client.schedule.getHandle(workflowId.erpSchedule(integrationId, entity));
    try {
      if (change.op === 'pause') await handle.pause(change.note);
      else if (change.op === 'resume') await handle.unpause('resumed through the API');
      else await handle.delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
}
