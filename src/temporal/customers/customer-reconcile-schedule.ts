import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { customerSyncSettingsOf } from '../../domain/customers/sync-settings.js';
import type { CustomerReconcileInput, CustomerReconcileTrigger } from '../../shared/customer-messages.js';
import { TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import type { Workflows } from '../../shared/workflow-types.js';
import { deleteScheduleIfExists, spreadInterval, upsertSchedule } from '../schedules.js';
import { scheduledStart, startWorkflow } from '../start-workflow.js';
import { tenantPriority } from '../../shared/fairness.js';

export interface SyncingConnection {
  id: string;
  tenantId: string;
  status: string;
  settings: Record<string, unknown>;
}

/** Customer sync is on for the connection: active, with `settings.customerSync.enabled`. */
export const syncsCustomers = (c: SyncingConnection | undefined): boolean => !!c && c.status === 'active' && customerSyncSettingsOf(c.settings) !== null;

/**
 * Starts a reconciliation of the connection under its one manual id, or joins the one running
 * (backfill, API): at most one non-scheduled run per connection at a time.
 */
export async function startCustomerReconcile(client: Client, taskQueue: string, conn: { id: string; tenantId: string }, trigger: CustomerReconcileTrigger) {
  const id = workflowId.customerReconcile(conn.id);
  const args: [CustomerReconcileInput] = [{ tenantId: conn.tenantId, connectionId: conn.id, trigger }];
  try {
    return await startWorkflow(client, 'customerReconcileWorkflow', {
      workflowId: id,
      taskQueue,
      args,
      typedSearchAttributes: [{ key: TenantIdAttr, value: conn.tenantId }],
      priority: tenantPriority(conn.tenantId),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return client.workflow.getHandle<Workflows['customerReconcileWorkflow']>(id);
  }
}

/**
 * Brings the connection's reconciliation Schedule in line with its settings after a change: created
 * or updated while customer sync is on, deleted when it goes off. Turning sync on starts the backfill
 * (a full reconcile with trigger `connect`) at once. `before` is the connection before the change
 * (undefined for a new connection), `after` undefined for a deleted one.
 */
export async function applyCustomerSyncSchedule(
  client: Client,
  taskQueue: string,
  before: SyncingConnection | undefined,
  after: SyncingConnection | undefined,
): Promise<{ backfillStarted: boolean }> {
  const conn = after ?? before;
  if (!conn) return { backfillStarted: false };
  const scheduleId = workflowId.customerReconcileSchedule(conn.id);
  const settings = after && syncsCustomers(after) ? customerSyncSettingsOf(after.settings) : null;
  if (!settings) {
    if (syncsCustomers(before)) await deleteScheduleIfExists(client, scheduleId);
    return { backfillStarted: false };
  }
  const args: [CustomerReconcileInput] = [{ tenantId: conn.tenantId, connectionId: conn.id, trigger: 'schedule' }];
  await upsertSchedule(client, {
    scheduleId,
    spec: spreadInterval(settings.reconcileIntervalSeconds, conn.id),
    action: scheduledStart('customerReconcileWorkflow', {
      taskQueue,
      // Temporal appends the scheduled time to each run's id.
      workflowId: scheduleId,
      args,
      typedSearchAttributes: [{ key: TenantIdAttr, value: conn.tenantId }],
      priority: tenantPriority(conn.tenantId),
    }),
  });
  if (syncsCustomers(before)) return { backfillStarted: false };
  await startCustomerReconcile(client, taskQueue, conn, 'connect');
  return { backfillStarted: true };
}
