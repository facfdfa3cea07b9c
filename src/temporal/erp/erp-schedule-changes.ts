/**
 * Pauses, resumes or deletes an integration's Schedules. Apart from erp-schedules.ts (which builds
 * their start actions from the workflow types) so that activities can pause them without importing
 * the workflow side.
 */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { ERP_ENTITIES } from '../../domain/erp/entities.js';
import { IntegrationIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { terminateRunning, visibilityValue } from '../terminate-workflows.js';

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

/**
 * Stops everything of a deleted integration: its schedules first (no new runs), then every running
 * poll, webhook apply and dead-letter replay, found by the IntegrationId search attribute they all
 * carry, plus `runWorkflowIds` (its running runs as recorded, in case visibility lags the start).
 */
export async function stopErpIntegration(client: Client, integrationId: string, runWorkflowIds: string[] = []): Promise<void> {
  await changeErpSchedules(client, integrationId, [...ERP_ENTITIES], { op: 'delete' });
  await terminateRunning(
    client,
    { query: `${IntegrationIdAttr.name} = ${visibilityValue(integrationId)}`, ids: runWorkflowIds },
    `integration ${integrationId} was deleted`,
  );
}
