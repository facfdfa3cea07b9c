import { continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createCustomerSyncActivities } from '../../activities/customers/customer-sync-activities.js';
import {
  customerReconcileProgressQuery,
  ZERO_RECONCILE_COUNTS,
  type CustomerReconcileCounts,
  type CustomerReconcileInput,
  type CustomerReconcilePhase,
  type CustomerReconcileResult,
} from '../../shared/customer-messages.js';
import { bookkeeping, bulkSync, remoteSync } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

type Activities = ReturnType<typeof createCustomerSyncActivities>;
const { catchUpMissedCustomerChanges } = waitingForTenantShare(proxyActivities<Pick<Activities, 'catchUpMissedCustomerChanges'>>(remoteSync));
const { reconcileRemoteCustomerPage, sweepUnseenRemoteCustomers, reconcileLocalCustomerPage } = waitingForTenantShare(
  proxyActivities<Pick<Activities, 'reconcileRemoteCustomerPage' | 'sweepUnseenRemoteCustomers' | 'reconcileLocalCustomerPage'>>(bulkSync),
);
const { beginCustomerSyncRun, finishCustomerSyncRun } = proxyActivities<Pick<Activities, 'beginCustomerSyncRun' | 'finishCustomerSyncRun'>>(bookkeeping);

const NEXT_PHASE = { remote: 'sweep', sweep: 'local', local: 'done' } as const satisfies Record<string, CustomerReconcilePhase>;

/** Continue-as-new well before Temporal's history limits (about 6 events per page). */
const MAX_HISTORY_EVENTS = 5_000;

/**
 * Reconciles one connection's customers (manual: `customer-reconcile-<connection>`, also the backfill
 * when sync is turned on; scheduled: `customer-reconcile-schedule-<connection>-<time>`):
 * 1. events: the remote change feed after the stored cursor (webhooks that never arrived);
 * 2. remote: every remote record, page by page, against the mapping (drift, links, imports), marking
 *    the mappings it lists;
 * 3. sweep: after a complete remote scan, the mappings it did not list, confirmed gone one by one,
 *    are applied as remote deletes (deletes whose webhook was lost, on systems without a feed too);
 * 4. local: every local customer, page by page (pushes of customers the remote lacks).
 * Repairs go to the customers' entity workflows; counts are kept in `customer_sync_runs` after every
 * page and answered by the `customerReconcileProgress` query.
 */
export async function customerReconcileWorkflow(input: CustomerReconcileInput): Promise<CustomerReconcileResult> {
  const base = { tenantId: input.tenantId, connectionId: input.connectionId };
  const carried = input.carried;
  let runId: string | null = carried?.runId ?? null;
  let phase: CustomerReconcilePhase = carried?.phase ?? 'events';
  let cursor: string | null = carried?.cursor ?? null;
  let totals: CustomerReconcileCounts = carried?.totals ?? ZERO_RECONCILE_COUNTS;
  let skipRemoteIds: string[] = carried?.skipRemoteIds ?? [];
  setHandler(customerReconcileProgressQuery, () => ({ ...totals, runId, phase }));

  const info = workflowInfo();
  runId ??= (await beginCustomerSyncRun({ ...base, trigger: input.trigger ?? 'manual', workflowId: info.workflowId, workflowRunId: info.firstExecutionRunId })).runId;
  const run = runId;
  try {
    if (phase === 'events') {
      const missed = await catchUpMissedCustomerChanges({ ...base, runId: run, totals });
      totals = { ...totals, missedChanges: totals.missedChanges + missed.changes };
      // Changes just handed on are being applied: the remote scan would count them as drift again.
      skipRemoteIds = missed.remoteIds;
      phase = 'remote';
    }
    while (phase === 'remote' || phase === 'sweep' || phase === 'local') {
      const page =
        phase === 'remote'
          ? await reconcileRemoteCustomerPage({ ...base, runId: run, cursor, totals, skipRemoteIds })
          : phase === 'sweep'
            ? await sweepUnseenRemoteCustomers({ ...base, runId: run, cursor, totals })
            : await reconcileLocalCustomerPage({ ...base, runId: run, cursor, totals });
      totals = page.totals;
      cursor = page.cursor;
      if (cursor === null) phase = NEXT_PHASE[phase];
      if (phase !== 'done' && (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS)) {
        await continueAsNew<typeof customerReconcileWorkflow>({ ...input, carried: { runId: run, phase, cursor, totals, skipRemoteIds } });
      }
    }
  } catch (err) {
    await finishCustomerSyncRun({ runId: run, totals, error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) });
    throw err;
  }
  await finishCustomerSyncRun({ runId: run, totals });
  return { ...totals, runId: run, phase: 'done', changes: totals.missedChanges };
}
