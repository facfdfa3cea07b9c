/**
 * Per-tenant quotas (docs/tenancy.md#quotas): how much one tenant may create or keep, so a flood of
 * connections, integrations, fast polls or uploads cannot take the shared workers and storage from
 * the others. A count or size quota does not clear by itself (422); a concurrency quota does (429 with
 * Retry-After). Every refusal is `quota_exceeded` naming the quota, its limit, the usage and the setting.
 */
import type { Db } from '../db/client.js';
import { countOwned, lockTenantQuotas, type CountedResource } from '../db/queries/tenant-quotas.js';
import { ApiError } from './errors.js';

/** The quotas, by the name errors and GET /v1/quotas use. */
export interface TenantQuotas {
  connections: number;
  erp_integrations: number;
  provider_definitions: number;
  api_keys: number;
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
  upload_bytes: 2 * 1024 ** 3,
  concurrent_uploads: 2,
  erp_min_poll_interval_seconds: 60,
};

/** Seconds to wait before retrying a refused concurrent upload. */
const UPLOAD_RETRY_AFTER_SECONDS = 10;

const REMEDY: Record<CountedResource, string> = {
  connections: 'delete a connection to create another',
  erp_integrations: 'delete an integration to create another',
  provider_definitions: 'delete a provider to add another',
  api_keys: 'revoke a key to create another',
};

/** The refusal of `quota` at `used` of `limit`. */
export function quotaExceeded(quota: QuotaName, limit: number, used: number, remedy: string): ApiError {
  const concurrency = quota === 'concurrent_uploads';
  return new ApiError(
    concurrency ? 429 : 422,
    'quota_exceeded',
    `quota ${quota}: ${used} of ${limit} used (${QUOTA_SETTINGS[quota]}); ${remedy}`,
    [{ path: `quotas.${quota}`, message: `limit ${limit}, used ${used}` }],
    concurrency ? { 'Retry-After': String(UPLOAD_RETRY_AFTER_SECONDS) } : undefined,
  );
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Holds the tenant's quota lock for the rest of `tx` and refuses when it already has its quota of
 * `resource`. Call it in the transaction that inserts, so concurrent creates take turns.
 */
export async function requireRoom(tx: Tx, quotas: TenantQuotas, tenantId: string, resource: CountedResource): Promise<void> {
  await lockTenantQuotas(tx, tenantId);
  const used = await countOwned(tx, tenantId, resource);
  if (used >= quotas[resource]) throw quotaExceeded(resource, quotas[resource], used, REMEDY[resource]);
}

/** Refuses an ERP poll interval below the minimum, naming the field. */
export function checkPollInterval(quotas: TenantQuotas, intervalSeconds: number | undefined, path = 'body.settings.intervalSeconds'): void {
  const min = quotas.erp_min_poll_interval_seconds;
  if (intervalSeconds === undefined || intervalSeconds >= min) return;
  throw new ApiError(
    422,
    'quota_exceeded',
    `quota erp_min_poll_interval_seconds: ${path.replace(/^body\./, '')} is ${intervalSeconds}, the minimum is ${min} (${QUOTA_SETTINGS.erp_min_poll_interval_seconds})`,
    [{ path, message: `must be at least ${min}` }],
  );
}
