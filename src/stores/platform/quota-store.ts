/**
 * Per-tenant quotas (docs/tenancy.md#quotas): how much one tenant may create or keep, so a flood of
 * connections, integrations, fast polls or uploads cannot take the shared workers and storage from
 * the others. What a tenant holds is counted here, under a lock that makes a check and the insert it
 * admits one step: concurrent creates of one tenant take turns, so two requests at the limit cannot
 * both see room.
 */
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { apiKeys, connections, providerDefinitions, webhookEndpoints } from '../../db/schema.js';
import { erpIntegrations } from '../../db/tables/erp.js';

/** The quotas, by the name errors and GET /v1/quotas use. */
export interface TenantQuotas {
  connections: number;
  erp_integrations: number;
  provider_definitions: number;
  api_keys: number;
  webhook_endpoints: number;
  /** Bytes of uploaded ERP files kept. */
  upload_bytes: number;
  /** Uploads received at the same time. */
  concurrent_uploads: number;
  /** Smallest `settings.intervalSeconds` of an ERP integration. */
  erp_min_poll_interval_seconds: number;
}
export type QuotaName = keyof TenantQuotas;

/** The setting behind each quota (src/config/env.ts), named in every refusal. */
export const QUOTA_SETTINGS: Record<QuotaName, string> = {
  connections: 'TENANT_MAX_CONNECTIONS',
  erp_integrations: 'TENANT_MAX_ERP_INTEGRATIONS',
  provider_definitions: 'TENANT_MAX_PROVIDER_DEFINITIONS',
  api_keys: 'TENANT_MAX_API_KEYS',
  webhook_endpoints: 'TENANT_MAX_WEBHOOK_ENDPOINTS',
  upload_bytes: 'TENANT_MAX_UPLOAD_BYTES',
  concurrent_uploads: 'TENANT_MAX_CONCURRENT_UPLOADS',
  erp_min_poll_interval_seconds: 'ERP_MIN_POLL_INTERVAL_SECONDS',
};

/** The defaults of the settings: far above what a merchant uses, low enough to stop a flood. */
export const DEFAULT_TENANT_QUOTAS: TenantQuotas = {
  connections: 50,
  erp_integrations: 50,
  provider_definitions: 50,
  api_keys: 20,
  webhook_endpoints: 20,
  upload_bytes: 2 * 1024 ** 3,
  concurrent_uploads: 2,
  erp_min_poll_interval_seconds: 60,
};

/** Anything that can run a query: the database or a transaction. */
export type Queryable = Pick<Db, 'select' | 'execute'>;

/** Resources a tenant creates one by one, each with a count quota. */
export const COUNTED_RESOURCES = ['connections', 'erp_integrations', 'provider_definitions', 'api_keys', 'webhook_endpoints'] as const;
export type CountedResource = (typeof COUNTED_RESOURCES)[number];

const REMEDY: Record<CountedResource, string> = {
  connections: 'delete a connection to create another',
  erp_integrations: 'delete an integration to create another',
  provider_definitions: 'delete a provider to add another',
  api_keys: 'revoke a key to create another',
  webhook_endpoints: 'delete a webhook endpoint to create another',
};

/**
 * A refusal by a quota: `used` of `limit`, with what the tenant can do about it. A count or size
 * quota does not clear by itself; a concurrency quota (concurrent_uploads) does.
 */
export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  constructor(
    readonly quota: QuotaName,
    readonly limit: number,
    readonly used: number,
    remedy: string,
  ) {
    super(`quota ${quota}: ${used} of ${limit} used (${QUOTA_SETTINGS[quota]}); ${remedy}`);
  }
}

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
      case 'webhook_endpoints':
        return db.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.tenantId, tenantId));
    }
  })();
  return row?.n ?? 0;
}

/** How many of every counted resource the tenant has. */
export async function countAllOwned(db: Queryable, tenantId: string): Promise<Record<CountedResource, number>> {
  const counts = await Promise.all(COUNTED_RESOURCES.map((resource) => countOwned(db, tenantId, resource)));
  return Object.fromEntries(COUNTED_RESOURCES.map((resource, i) => [resource, counts[i]!])) as Record<CountedResource, number>;
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Holds the tenant's quota lock for the rest of `tx` and refuses (QuotaExceededError) when it already
 * has its quota of `resource`. Call it in the transaction that inserts, so concurrent creates take turns.
 */
export async function requireRoom(tx: Tx, quotas: TenantQuotas, tenantId: string, resource: CountedResource): Promise<void> {
  await lockTenantQuotas(tx, tenantId);
  const used = await countOwned(tx, tenantId, resource);
  if (used >= quotas[resource]) throw new QuotaExceededError(resource, quotas[resource], used, REMEDY[resource]);
}
