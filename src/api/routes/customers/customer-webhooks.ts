import { customerSyncSettingsOf } from '../../../domain/customers/sync-settings.js';
import { remoteChangeOf } from '../../../providers/crm-client.js';
import { customerToApply } from '../../../stores/customers/customer-store.js';
import type { ConnectionRow } from '../../../stores/platform/connection-store.js';
import { signalCustomerSync } from '../../../temporal/customers/signal-customer-sync.js';
import type { AppDeps } from '../../deps.js';

/**
 * Hands a verified, stored webhook about a customer to the customer's entity workflow. Resolves
 * false when the payload is not a customer event of a connection that syncs customers.
 */
export async function deliverCustomerEvent(deps: AppDeps, conn: ConnectionRow, payload: unknown, deliveryId?: string): Promise<boolean> {
  if (!customerSyncSettingsOf(conn.settings)) return false;
  const { factory } = await deps.providers.resolve(conn.tenantId, conn.provider);
  const event = factory.customerSync?.customerEventOf(payload, deliveryId);
  if (!event) return false;
  // An echo of our own write is acknowledged without a signal (it would cost the workflow a task).
  const customerId = await customerToApply(deps.database.db, conn, event);
  if (!customerId) return true;
  await signalCustomerSync(
    deps.temporal,
    deps.taskQueues.customers,
    { tenantId: conn.tenantId, customerId },
    { remote: remoteChangeOf(conn.id, event) },
  );
  return true;
}
