import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { connections } from '../../../db/schema.js';
import { customerSyncSettingsOf } from '../../../domain/customers/sync-settings.js';
import { TenantIdAttr } from '../../../shared/search-attributes.js';
import { workflowId } from '../../../shared/workflow-ids.js';
import { startWorkflow } from '../../../temporal/start-workflow.js';
import type { AppDeps } from '../../deps.js';
import { resultWithin } from '../../await-workflow.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';

const syncOut = z.object({
  connectionId: z.string(),
  status: z.enum(['completed', 'running']),
  changes: z.number().int().nullable().meta({ description: 'Missed changes found and handed to their customers (null while running)' }),
  workflowId: z.string(),
});

/** `POST /v1/connections/:id/sync`: catch up on customer changes the connection's webhooks missed. */
export function customerReconcileRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  return r.endpoint(
    'post',
    '/v1/connections/:id/sync',
    {
      summary: "Reconcile a connection's customers now",
      description:
        "Reads the remote change feed (Stripe's /v1/events) after the stored cursor and hands each change to its customer's " +
        'sync workflow. Answers within 30 s with the count, or `running` (follow the workflow id in the Temporal UI).',
      params: z.object({ id: z.string().min(1) }),
      responses: { 200: { description: 'Done or still running', schema: syncOut } },
    },
    async ({ params, tenant, res }) => {
      const [conn] = await db.select().from(connections).where(and(eq(connections.id, params.id), eq(connections.tenantId, tenant.id)));
      if (!conn) throw ApiError.notFound('connection', params.id);
      if (!customerSyncSettingsOf(conn.settings)) {
        throw new ApiError(409, 'conflict', `connection ${conn.id} does not sync customers; set settings.customerSync.enabled first`);
      }
      const id = workflowId.customerReconcile(conn.id);
      let handle;
      try {
        handle = await startWorkflow(deps.temporal, 'customerReconcileWorkflow', {
          workflowId: id,
          taskQueue: deps.taskQueues.customers,
          args: [{ tenantId: tenant.id, connectionId: conn.id }],
          typedSearchAttributes: [{ key: TenantIdAttr, value: tenant.id }],
        });
      } catch (err) {
        // One reconciliation per connection at a time: join the running one.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = deps.temporal.workflow.getHandle(id);
      }
      const result = await resultWithin<{ changes: number }>(handle, 30_000);
      res.json({ connectionId: conn.id, status: result ? 'completed' : 'running', changes: result?.changes ?? null, workflowId: id });
    },
  );
}
