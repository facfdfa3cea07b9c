/** One Temporal Schedule per integration and entity, running ErpPollWorkflow (incremental) every interval. */
import type { Client } from '@temporalio/client';
import type { ErpEntity } from '../../domain/erp/entities.js';
import type { ErpPollInput } from '../../shared/erp-messages.js';
import { integrationSearchAttributes } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { spreadInterval, upsertSchedule } from '../schedules.js';
import { scheduledStart } from '../start-workflow.js';
import { tenantPriority } from '../../shared/fairness.js';

export interface ErpScheduleTarget {
  tenantId: string;
  integrationId: string;
  entities: ErpEntity[];
  intervalSeconds: number;
  taskQueue: string;
  paused: boolean;
  note?: string;
}

/** Creates or updates the schedules of an integration's entities. */
export async function ensureErpSchedules(client: Client, t: ErpScheduleTarget): Promise<void> {
  for (const entity of t.entities) {
    const scheduleId = workflowId.erpSchedule(t.integrationId, entity);
    const input: ErpPollInput = { tenantId: t.tenantId, integrationId: t.integrationId, entity, mode: 'incremental', trigger: 'schedule' };
    const action = scheduledStart('erpPollWorkflow', {
      taskQueue: t.taskQueue,
      // Temporal appends the scheduled time: runs read erp-<integration>-<entity>-<time> in the UI.
      workflowId: scheduleId,
      args: [input],
      typedSearchAttributes: integrationSearchAttributes(t.tenantId, t.integrationId),
      priority: tenantPriority(t.tenantId),
    });
    await upsertSchedule(client, {
      scheduleId,
      // Each integration's entity at a phase of its own: many tenants' polls do not all start at once.
      spec: spreadInterval(t.intervalSeconds, scheduleId),
      action,
      paused: t.paused,
      ...(t.note ? { note: t.note } : {}),
    });
  }
}
