/**
 * Quota refusals as HTTP answers (the quotas themselves, their counting and the refusal they raise,
 * QuotaExceededError, live in src/stores/platform/quota-store.ts): a count or size quota does not
 * clear by itself (422); a concurrency quota does (429 with Retry-After). Every refusal is
 * `quota_exceeded` naming the quota, its limit, the usage and the setting.
 */
import { QUOTA_SETTINGS, type QuotaExceededError, type TenantQuotas } from '../stores/platform/quota-store.js';
import { ApiError } from './errors.js';

/** Seconds to wait before retrying a refused concurrent upload. */
const UPLOAD_RETRY_AFTER_SECONDS = 10;

/** The answer to a quota refusal. */
export function quotaRefusal(err: QuotaExceededError): ApiError {
  const concurrency = err.quota === 'concurrent_uploads';
  return new ApiError(
    concurrency ? 429 : 422,
    'quota_exceeded',
    err.message,
    [{ path: `quotas.${err.quota}`, message: `limit ${err.limit}, used ${err.used}` }],
    concurrency ? { 'Retry-After': String(UPLOAD_RETRY_AFTER_SECONDS) } : undefined,
  );
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
