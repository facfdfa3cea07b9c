/** A customer's recorded sync conflicts, paged (a long-lived customer may gather many). */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { syncConflicts } from '../../db/schema.js';
import { CUSTOMERS_CATALOG } from '../../domain/customers/sync-settings.js';
import { keysetPage, type Page } from '../keyset-page.js';
import type { CustomerConflictRow, CustomerRow } from './customer-store.js';

/** One page of the customer's conflicts, oldest first, optionally with one connected system only. */
export async function listCustomerConflicts(
  db: Db,
  customer: Pick<CustomerRow, 'id' | 'tenantId'>,
  filter: { connectionId?: string | undefined },
  page: { cursor?: string | undefined; limit: number },
): Promise<Page<CustomerConflictRow>> {
  return keysetPage<CustomerConflictRow>(
    db,
    {
      table: syncConflicts,
      orderBy: [syncConflicts.id],
      order: 'asc',
      scope: and(eq(syncConflicts.tenantId, customer.tenantId), eq(syncConflicts.catalog, CUSTOMERS_CATALOG), eq(syncConflicts.localId, customer.id)),
      filter: filter.connectionId ? eq(syncConflicts.connectionId, filter.connectionId) : undefined,
    },
    page,
  );
}
