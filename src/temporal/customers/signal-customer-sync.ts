import type { Client } from '@temporalio/client';
import {
  localCustomerChangeSignal,
  remoteCustomerChangeSignal,
  type CustomerChange,
  type LocalCustomerChange,
  type RemoteCustomerChange,
} from '../../shared/customer-messages.js';
import { CustomerIdAttr, SyncStateAttr, TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { signalWithStartWorkflow } from '../start-workflow.js';
import { tenantPriority } from '../../shared/fairness.js';

/**
 * Delivers a change to the customer's entity workflow, starting it if it is not running
 * (signal-with-start on the deterministic id `customer-<id>`): exactly one run per customer.
 */
export async function signalCustomerSync(
  client: Client,
  taskQueue: string,
  customer: { tenantId: string; customerId: string },
  change: CustomerChange,
): Promise<void> {
  const common = {
    workflowId: workflowId.customer(customer.customerId),
    taskQueue,
    args: [customer] as [typeof customer],
    typedSearchAttributes: [
      { key: TenantIdAttr, value: customer.tenantId },
      { key: CustomerIdAttr, value: customer.customerId },
      { key: SyncStateAttr, value: 'pending' },
    ],
    priority: tenantPriority(customer.tenantId),
  };
  if ('local' in change) {
    await signalWithStartWorkflow<'customerSyncWorkflow', [LocalCustomerChange]>(client, 'customerSyncWorkflow', {
      ...common,
      signal: localCustomerChangeSignal,
      signalArgs: [change.local],
    });
  } else {
    await signalWithStartWorkflow<'customerSyncWorkflow', [RemoteCustomerChange]>(client, 'customerSyncWorkflow', {
      ...common,
      signal: remoteCustomerChangeSignal,
      signalArgs: [change.remote],
    });
  }
}
