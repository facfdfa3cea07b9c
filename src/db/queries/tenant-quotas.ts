/**
 * What a tenant holds, counted for its quotas (docs/tenancy.md#quotas), and the lock that makes a
 * check and the insert it admits one step: concurrent creates of one tenant take turns, so two
 * requests at the limit cannot both see room.
 */
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { apiKeys, connections, providerDefinitions } from '../schema.js';
import { erpIntegrations } from '../tables/erp.js';

/** Anything that can run a query: the database or a transaction. */
export type Queryable = Pick<Db, 'select' | 'execute'>;

/** Resources a tenant creates one by one, each with a count quota. */
export const COUNTED_RESOURCES = ['connections', 'erp_integrations', 'provider_definitions', 'api_keys'] as const;
export type CountedResource = (typeof COUNTED_RESOURCES)[number];

/**
 * Takes the tenant's quota lock until the transaction ends. An advisory lock rather than a row lock on
 * the tenant, so ordinary inserts referencing the tenant (which take KEY SHARE on its row) never wait.
 */
export async function lockTenantQuotas(tx: Pick<Db, 'execute'>, tenantId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`switchyard.quota:${tenantId}`}, 0))`);
}

/** How many of `resource` the tenant has (API keys: active ones; revoked keys no longer work). */
export async function countOwned(db: Queryable, tenantId: string, resource: CountedResource): Promise<number> {
  const [row] = await (() => {
    switch (resource) {
      case 'connections':
        return db.select({ n: count() }).from(connections).where(eq(connections.tenantId, tenantId));
      case 'erp_integrations':
        return db.select({ n: count() }).from(erpIntegrations).where(eq(erpIntegrations.tenantId, tenantId));
      case 'provider_definitions':
        return db.select({ n: count() }).from(providerDefinitions).where(eq(providerDefinitions.tenantId, tenantId));
      case 'api_keys':
        return db.select({ n: count() }).from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)));
    }
  })();
  return row?.n ?? 0;
}
