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

/** The delay a 429/503 answer asks for, read from its headers; undefined for other statuses. */
export function retryAfterOf(
  status: number | undefined,
  header: (name: string) => string | null | undefined,
  now?: number,
): number | undefined {
  if (status === undefined || !RETRY_AFTER_STATUSES.has(status)) return undefined;
  return parseRetryAfter(header('retry-after'), now);
}
