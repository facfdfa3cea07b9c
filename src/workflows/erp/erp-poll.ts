/**
 * ErpPollWorkflow: one run of one entity of one integration. Pages through the source with one
 * heartbeating activity per page (the activity commits page and checkpoint together), closes the
 * run, and continues as new on long runs so the history stays small.
 */
import { type ActivityOptions, ContinueAsNew, continueAsNew, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ErpActivities } from '../../activities/erp/erp-activities.js';
import { ErpFailureType } from '../../domain/erp/erp-failures.js';
import { FailureType } from '../../domain/failures.js';
import type { ErpPollInput } from '../../shared/erp-messages.js';
import { SyncStatusAttr } from '../../shared/search-attributes.js';
import { bookkeeping } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

/** Failures no retry can fix: fix the integration, then sync again. */
const permanent: string[] = [ErpFailureType.Misconfigured, ErpFailureType.CredentialsRefused, ErpFailureType.IntegrationGone, FailureType.DestinationBlocked];

/** Fetching a page: the ERP may be slow or rate-limited; a lost worker is noticed by the heartbeat. */
const erpPage = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 12,
    nonRetryableErrorTypes: permanent,
  },
} as const satisfies ActivityOptions;

const { syncErpPages } = waitingForTenantShare(proxyActivities<Pick<ErpActivities, 'syncErpPages'>>(erpPage));
const { openErpRun, finishErpRun } = proxyActivities<Pick<ErpActivities, 'openErpRun' | 'finishErpRun'>>(bookkeeping);

/** Pages per workflow run before continuing as new. */
const PAGES_PER_RUN = 100;

export async function erpPollWorkflow(input: ErpPollInput): Promise<{ runId: string; pages: number }> {
  const info = workflowInfo();
  // Idempotent: the API creates the row of the runs it starts; scheduled runs get theirs here.
  const { runId } = await openErpRun({ ...input, workflowId: info.workflowId });
  upsertSearchAttributes([{ key: SyncStatusAttr, value: 'running' }]);
  try {
    for (let i = 0; ; i++) {
      const page = await syncErpPages({ tenantId: input.tenantId, runId });
      if (page.done) {
        await finishErpRun({ tenantId: input.tenantId, integrationId: input.integrationId, runId, ok: true });
        upsertSearchAttributes([{ key: SyncStatusAttr, value: 'succeeded' }]);
        return { runId, pages: page.pages };
      }
      if (i + 1 >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof erpPollWorkflow>({ ...input, runId });
      }
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    await finishErpRun({ tenantId: input.tenantId, integrationId: input.integrationId, runId, ok: false, error: message });
    upsertSearchAttributes([{ key: SyncStatusAttr, value: 'failed' }]);
    throw err;
  }
}
