import { customerSyncSettingsIssues } from '../domain/customers/sync-settings.js';
import { ApiError } from './errors.js';
import { checkOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../providers/url-policy.js';

/**
 * Tenant-supplied connection settings may point a provider elsewhere (a sandbox base URL). Every
 * string setting that looks like a URL must pass the outbound URL policy at connect time, and a
 * `customerSync` block must be well-formed.
 */
export function checkConnectionSettings(settings: Record<string, unknown>, policy: OutboundUrlPolicy): void {
  // A malformed customerSync block would otherwise read as "sync off" without a word.
  const syncIssues = customerSyncSettingsIssues(settings);
  if (syncIssues.length > 0) {
    throw new ApiError(
      400,
      'validation_failed',
      `settings.${syncIssues[0]!.path} is invalid: ${syncIssues[0]!.message}`,
      syncIssues.map((i) => ({ path: `body.settings.${i.path}`, message: i.message })),
    );
  }
  for (const [key, value] of Object.entries(settings)) {
    if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) continue;
    try {
      checkOutboundUrl(value, policy);
    } catch (err) {
      if (!(err instanceof OutboundUrlError)) throw err;
      throw new ApiError(400, 'validation_failed', `settings.${key} is not an allowed URL`, [
        { path: `body.settings.${key}`, message: err.message },
      ]);
    }
  }
}
