import { z } from 'zod';
import { syncsCustomers } from '../../../stores/customers/customer-store.js';
import { customerSyncRunsOf, findCustomerSyncRun, type CustomerSyncRunRow } from '../../../stores/customers/customer-sync-run-store.js';
import { findConnection } from '../../../stores/platform/connection-store.js';
import { customerReconcileProgressQuery, type CustomerReconcileProgress, type CustomerReconcileResult } from '../../../shared/customer-messages.js';
import { startCustomerReconcile } from '../../../temporal/customers/customer-reconcile-schedule.js';
import type { AppDeps } from '../../deps.js';
import { resultWithin } from '../../await-workflow.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { answerPage, pageOut, pageQuery } from '../../common-schemas.js';

const count = (description: string) => z.number().int().nonnegative().meta({ description });
const counts = {
  missedChanges: count('Changes read from the remote change feed after the stored cursor (webhooks that never arrived)'),
  scanned: count('Records read on both sides'),
  imported: count('Remote records with no local twin, created locally'),
  linked: count('Unlinked remote records matched to a local customer (metadata link, or email when matchByEmail is on)'),
  pushed: count('Local customers the remote lacked, handed to be created there'),
  repaired: count('Records that differed between the sides (drift), or linked records gone at the remote (the delete sweep), handed to their customer to repair'),
};
const phase = z.enum(['events', 'remote', 'sweep', 'local', 'done']);

const syncOut = z.object({
  connectionId: z.string(),
  status: z.enum(['completed', 'running']),
  changes: z.number().int().nonnegative().nullable().meta({ description: 'Missed changes found and handed to their customers (null while running)' }),
  workflowId: z.string(),
  runId: z.string().nullable().meta({ description: 'GET /v1/connections/{id}/sync/runs/{runId}; null until the run is recorded' }),
  progress: z.object({ phase, ...counts }),
}).meta({
  id: 'CustomerReconcile',
  examples: [
    {
      connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
      status: 'completed',
      changes: 2,
      workflowId: 'customer-reconcile-con_7m4k2x9q1v8t3n6p5r0w',
      runId: 'csr_3m8k2q6x9v1t4n7p5r0w',
      progress: { phase: 'done', missedChanges: 2, scanned: 480, imported: 1, linked: 3, pushed: 0, repaired: 1 },
    },
  ],
});

const runOut = z.object({
  id: z.string(),
  object: z.literal('customer_sync_run'),
  connectionId: z.string(),
  trigger: z.enum(['connect', 'manual', 'schedule']),
  status: z.enum(['running', 'completed', 'failed']),
  phase,
  ...counts,
  error: z.string().nullable(),
  workflowId: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
}).meta({
  id: 'CustomerSyncRun',
  examples: [
    {
      id: 'csr_3m8k2q6x9v1t4n7p5r0w',
      object: 'customer_sync_run',
      connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
      trigger: 'manual',
      status: 'completed',
      phase: 'done',
      missedChanges: 2,
      scanned: 480,
      imported: 1,
      linked: 3,
      pushed: 0,
      repaired: 1,
      error: null,
      workflowId: 'customer-reconcile-con_7m4k2x9q1v8t3n6p5r0w',
      startedAt: '2026-12-07T10:15:30.000Z',
      updatedAt: '2026-12-07T10:16:02.000Z',
      finishedAt: '2026-12-07T10:16:02.000Z',
    },
  ],
});

function presentRun(r: CustomerSyncRunRow): z.infer<typeof runOut> {
  return {
    id: r.id,
    object: 'customer_sync_run',
    connectionId: r.connectionId,
    trigger: r.trigger,
    status: r.status,
    phase: r.phase,
    missedChanges: r.missedChanges,
    scanned: r.scanned,
    imported: r.imported,
    linked: r.linked,
    pushed: r.pushed,
    repaired: r.repaired,
    error: r.error,
    workflowId: r.workflowId,
    startedAt: r.startedAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

const idParams = z.object({ id: z.string().min(1) });

/**
 * `POST /v1/connections/:id/sync` (full reconcile: missed events, drift, backfill) and the record of
 * every run, with its progress, under `/v1/connections/:id/sync/runs`.
 */
export function customerReconcileRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  async function ownedConnection(tenantId: string, id: string) {
    const conn = await findConnection(db, tenantId, id);
    if (!conn) throw ApiError.notFound('connection', id);
    return conn;
  }

  return r
    .endpoint(
      'post',
      '/v1/connections/:id/sync',
      {
        operationId: 'reconcileCustomers',
        summary: "Reconcile a connection's customers now",
        description:
          "Reads the remote change feed (Stripe's /v1/events) after the stored cursor, then compares every remote record and every local " +
          "customer (drift, missing on either side) and hands each difference to its customer's sync workflow. Joins a run already going " +
          '(e.g. the backfill started when sync was turned on). Answers within `wait` seconds (default 30) with the counts, or `running` ' +
          'with the progress so far (follow `runId` or the workflow id in the Temporal UI).',
        params: idParams,
        query: z.strictObject({ wait: z.coerce.number().int().min(0).max(30).default(30) }),
        responses: { 200: { description: 'Done or still running', schema: syncOut } },
      },
      async ({ params, query, tenant, res }) => {
        const conn = await ownedConnection(tenant.id, params.id);
        if (!syncsCustomers(conn)) {
          throw new ApiError(409, 'conflict', `connection ${conn.id} does not sync customers; set settings.customerSync.enabled first`);
        }
        const handle = await startCustomerReconcile(deps.temporal, deps.taskQueues.customers, conn, 'manual');
        const result = await resultWithin<CustomerReconcileResult>(handle, query.wait * 1000);
        let progress: CustomerReconcileProgress;
        if (result) {
          progress = result;
        } else {
          try {
            progress = await handle.query(customerReconcileProgressQuery);
          } catch {
            // Not picked up by a worker yet: nothing to report.
            progress = { runId: null, phase: 'events', missedChanges: 0, scanned: 0, imported: 0, linked: 0, pushed: 0, repaired: 0 };
          }
        }
        const { runId, ...rest } = progress;
        res.json({
          connectionId: conn.id,
          status: result ? 'completed' : 'running',
          changes: result?.changes ?? null,
          workflowId: handle.workflowId,
          runId,
          progress: {
            phase: rest.phase,
            missedChanges: rest.missedChanges,
            scanned: rest.scanned,
            imported: rest.imported,
            linked: rest.linked,
            pushed: rest.pushed,
            repaired: rest.repaired,
          },
        });
      },
    )
    .endpoint(
      'get',
      '/v1/connections/:id/sync/runs',
      {
        operationId: 'listCustomerSyncRuns',
        summary: 'Reconciliation and backfill runs of a connection, newest first, a page at a time',
        description: 'Page with `cursor` (`hasMore`, `nextCursor`); nothing is cut off silently.',
        params: idParams,
        query: z.strictObject(pageQuery(20, 100)),
        responses: { 200: { description: 'A page of runs', schema: pageOut(runOut) } },
      },
      async ({ params, query, tenant, res }) => {
        const conn = await ownedConnection(tenant.id, params.id);
        res.json(await answerPage(customerSyncRunsOf(db, conn.id, query), presentRun));
      },
    )
    .endpoint(
      'get',
      '/v1/connections/:id/sync/runs/:runId',
      {
        operationId: 'getCustomerSyncRun',
        summary: 'One reconciliation or backfill run: what it found and did so far (updated after every page)',
        params: z.object({ id: z.string().min(1), runId: z.string().min(1) }),
        responses: { 200: { description: 'The run', schema: runOut } },
      },
      async ({ params, tenant, res }) => {
        const conn = await ownedConnection(tenant.id, params.id);
        const run = await findCustomerSyncRun(db, conn.id, params.runId);
        if (!run) throw ApiError.notFound('customer sync run', params.runId);
        res.json(presentRun(run));
      },
    );
}
