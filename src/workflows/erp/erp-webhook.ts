/**
 * ErpWebhookWorkflow: applies one verified, stored ERP webhook event through the same path as
 * polling (mapping, validation, upsert, dead letters), in an activity retried until the database
 * takes it. The workflow id derives from the inbox row, so one event is one workflow; the activity
 * applies and marks the event in one transaction, so a retry after a commit changes nothing.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ErpActivities } from '../../activities/erp/erp-activities.js';
import type { ErpWebhookInput, ErpWebhookResult } from '../../shared/erp-messages.js';
import { erpApply } from '../activity-options.js';

const { applyErpWebhookEvent } = proxyActivities<Pick<ErpActivities, 'applyErpWebhookEvent'>>(erpApply);

export async function erpWebhookWorkflow(input: ErpWebhookInput): Promise<ErpWebhookResult> {
  return applyErpWebhookEvent(input);
}
