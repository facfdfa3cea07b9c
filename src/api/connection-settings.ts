import { ApiError } from './errors.js';
import { checkOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../providers/url-policy.js';

/**
 * Tenant-supplied connection settings may point a provider elsewhere (a sandbox base URL). Every
 * string setting that looks like a URL must pass the outbound URL policy at connect time.
 */
export function checkConnectionSettings(settings: Record<string, unknown>, policy: OutboundUrlPolicy): void {
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
