/**
 * ErpWebhookWorkflow: applies one verified, stored ERP webhook event through the same path as
 * polling (mapping, validation, upsert, dead letters), in an activity retried until the database
 * takes it. The workflow id derives from the inbox row, so one event is one workflow; the activity
 * applies and marks the event in one transaction, so a retry after a commit changes nothing.
 */
import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import type { ErpActivities } from '../../activities/erp/erp-activities.js';
import { ErpFailureType } from '../../domain/erp/failures.js';
import type { ErpWebhookInput, ErpWebhookResult } from '../../shared/erp-messages.js';

/** A database hiccup is retried with backoff for about 10 minutes; a gone integration or mapping is not. */
const erpApply = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 25,
    nonRetryableErrorTypes: [ErpFailureType.Misconfigured, ErpFailureType.IntegrationGone],
  },
} as const satisfies ActivityOptions;

const { applyErpWebhookEvent } = proxyActivities<ErpActivities>(erpApply);

export async function erpWebhookWorkflow(input: ErpWebhookInput): Promise<ErpWebhookResult> {
  return applyErpWebhookEvent(input);
}
