import { proxyActivities } from '@temporalio/workflow';
import type { createCustomerSyncActivities } from '../../activities/customers/customer-sync-activities.js';
import { remoteSync } from '../activity-options.js';

const { catchUpMissedCustomerChanges } = proxyActivities<ReturnType<typeof createCustomerSyncActivities>>(remoteSync);

/**
 * Catches customer changes a connection's webhooks missed (id `customer-reconcile-<connection id>`):
 * reads the remote change feed after the stored cursor and signals each change to its customer.
 */
export async function customerReconcileWorkflow(input: { tenantId: string; connectionId: string }): Promise<{ changes: number }> {
  return catchUpMissedCustomerChanges(input);
}
