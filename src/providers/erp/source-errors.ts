/** How an ERP source fails, by what helps: waiting, retrying, or fixing the integration. */
/** The ERP asked us to slow down; retry after `retryAfterMs`. */
export class ErpRateLimitedError extends Error {
  override readonly name = 'ErpRateLimitedError';
  constructor(readonly retryAfterMs: number) {
    super(`ERP rate limit: retry after ${Math.round(retryAfterMs / 1000)}s`);
  }
}
/** An `onError` rule with `action: ignore` matched: the page is empty and the last one. */
export class ErpIgnoredAnswer extends Error {
  override readonly name = 'ErpIgnoredAnswer';
}
/** The ERP is unreachable or failing (5xx, timeout): worth retrying. */
export class ErpUnavailableError extends Error {
  override readonly name = 'ErpUnavailableError';
}
/** The request or the answer cannot work as configured (4xx, no record list): fix the integration. */
export class ErpConfigurationError extends Error {
  override readonly name = 'ErpConfigurationError';
}
