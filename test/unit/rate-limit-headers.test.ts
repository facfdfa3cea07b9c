import { describe, expect, it } from 'vitest';
import { RATE_LIMIT_WAIT_CAP_MS, rateLimitDelayOf, retryAfterOf } from '../../src/providers/retry-after.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const nowSeconds = now / 1000;
const headers = (h: Record<string, string>) => (name: string) => new Headers(h).get(name);

describe('rateLimitDelayOf', () => {
  it.each([
    ['Retry-After seconds', { 'Retry-After': '3' }, 3000],
    ['Retry-After HTTP date', { 'Retry-After': 'Thu, 01 Jan 2026 12:00:05 GMT' }, 5000],
    ['RateLimit-Reset (IETF draft: seconds until reset)', { 'RateLimit-Reset': '7' }, 7000],
    ['X-RateLimit-Reset-After (decimal seconds)', { 'X-RateLimit-Reset-After': '1.25' }, 1250],
    ['X-RateLimit-Reset as seconds until (≤ 10^9)', { 'X-RateLimit-Reset': '20' }, 20_000],
    ['X-RateLimit-Reset as epoch seconds (> 10^9)', { 'X-RateLimit-Reset': String(nowSeconds + 30) }, 30_000],
    ['X-RateLimit-Reset as epoch milliseconds (> 10^12)', { 'X-RateLimit-Reset': String(now + 4000) }, 4000],
    ['X-Rate-Limit-Reset (epoch seconds)', { 'X-Rate-Limit-Reset': String(nowSeconds + 9) }, 9000],
    ['an epoch time in the past is now', { 'X-RateLimit-Reset': String(nowSeconds - 60) }, 0],
    ['Retry-After wins over the others', { 'Retry-After': '2', 'X-RateLimit-Reset': '50' }, 2000],
    ['capped', { 'RateLimit-Reset': '86400' }, RATE_LIMIT_WAIT_CAP_MS],
    ['an unreadable Retry-After falls through to the next header', { 'Retry-After': 'soon', 'RateLimit-Reset': '4' }, 4000],
  ])('%s', (_name, h, ms) => {
    expect(rateLimitDelayOf(headers(h), now)).toBe(ms);
  });

  it.each([[{}], [{ 'X-RateLimit-Reset': '-5' }], [{ 'RateLimit-Reset': 'later' }], [{ 'X-RateLimit-Remaining': '0' }]])(
    '%j → undefined',
    (h) => {
      expect(rateLimitDelayOf(headers(h), now)).toBeUndefined();
    },
  );

  it('reads the headers of 429 and 503 only (a 2xx with X-RateLimit-Remaining: 0 is an answer)', () => {
    const h = headers({ 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '30' });
    expect(retryAfterOf(429, h, now)).toBe(30_000);
    expect(retryAfterOf(503, h, now)).toBe(30_000);
    expect(retryAfterOf(200, h, now)).toBeUndefined();
  });
});
