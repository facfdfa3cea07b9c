import { proxyActivities } from '@temporalio/workflow';
import type { ErpActivities, ErpConnectionTestResult } from '../../activities/erp/erp-activities.js';
import { providerCheck } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

const { testErpConnection } = waitingForTenantShare(proxyActivities<Pick<ErpActivities, 'testErpConnection'>>(providerCheck));

/** Runs the connection test on the erp queue, where credentials may be decrypted. */
export async function erpConnectionTestWorkflow(input: { tenantId: string; integrationId: string }): Promise<ErpConnectionTestResult> {
  return testErpConnection(input);
}
