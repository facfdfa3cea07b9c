/**
 * The `Retry-After` response header (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date.
 * Hand-written because neither Node nor undici exposes a parser; `Date.parse` reads the IMF-fixdate
 * form (and the obsolete RFC 850 / asctime forms) that HTTP-date allows.
 */

/** Statuses whose Retry-After says when the provider is ready again (others are ignored). */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * Milliseconds to wait before the next attempt, or undefined when the header is absent or malformed.
 * A date in the past means "now" (0).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only a value that looks like a date: Date.parse also accepts bare numbers such as "-1" or "1.5".
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The longest wait any header may ask for: a provider asking for more is retried after 10 minutes. */
export const RATE_LIMIT_WAIT_CAP_MS = 600_000;

/** Header values above this are epoch seconds (2001-09-09), below it seconds from now. */
const EPOCH_SECONDS_FLOOR = 1e9;
/** …and above this, epoch milliseconds (a few APIs send them). */
const EPOCH_MILLIS_FLOOR = 1e12;

/** A non-negative decimal number of seconds (`1.5` is allowed here, unlike in Retry-After). */
function secondsOf(value: string | null | undefined): number | undefined {
  const text = value?.trim();
  if (!text || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The wait, in ms (capped at RATE_LIMIT_WAIT_CAP_MS), that an answer's rate-limit headers ask for, or
 * undefined when none is present and readable. The first present of:
 * - `Retry-After` (RFC 9110): delay-seconds or an HTTP-date;
 * - `RateLimit-Reset` (IETF draft-ietf-httpapi-ratelimit-headers) and `X-RateLimit-Reset-After`:
 *   seconds until the window resets;
 * - `X-RateLimit-Reset` / `X-Rate-Limit-Reset`, de facto with two meanings: a value above 10^9 is an
 *   epoch time in seconds (above 10^12, in milliseconds), a smaller one seconds until the reset.
 * Callers decide whether the answer is a rate limit at all: a 2xx with `X-RateLimit-Remaining: 0`
 * is an ordinary answer.
 */
export function rateLimitDelayOf(
  header: (name: string) => string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const cap = (ms: number | undefined) => (ms === undefined ? undefined : Math.min(Math.max(0, Math.round(ms)), RATE_LIMIT_WAIT_CAP_MS));
  const retryAfter = parseRetryAfter(header('retry-after'), now);
  if (retryAfter !== undefined) return cap(retryAfter);
  for (const name of ['ratelimit-reset', 'x-ratelimit-reset-after']) {
    const seconds = secondsOf(header(name));
    if (seconds !== undefined) return cap(seconds * 1000);
  }
  for (const name of ['x-ratelimit-reset', 'x-rate-limit-reset']) {
    const value = secondsOf(header(name));
    if (value === undefined) continue;
    if (value > EPOCH_MILLIS_FLOOR) return cap(value - now);
    if (value > EPOCH_SECONDS_FLOOR) return cap(value * 1000 - now);
    return cap(value * 1000);
  }
  return undefined;
}

/** The delay a 429/503 answer asks for, read from its rate-limit headers; undefined for other statuses. */
export function retryAfterOf(
  status: number | undefined,
  header: (name: string) => string | null | undefined,
  now?: number,
): number | undefined {
  if (status === undefined || !RETRY_AFTER_STATUSES.has(status)) return undefined;
  return rateLimitDelayOf(header, now);
}
