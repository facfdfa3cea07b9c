import { describe, expect, it } from 'vitest';
import { attemptVerdict, failingTooLong, MAX_RETRY_DELAY_MS, retryDelays, scheduledRetryDelay } from '../../src/domain/events/webhook-delivery-rules.js';

const HOUR = 3_600_000;

describe('what an endpoint answer means', () => {
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [410, 'gone'],
    [301, 'retry'], // redirects are not followed
    [400, 'retry'],
    [404, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [null, 'retry'], // no answer: timeout, refused connection
  ] as const)('%s -> %s', (status, verdict) => {
    expect(attemptVerdict(status)).toBe(verdict);
  });
});

describe('when a failing endpoint is disabled', () => {
  const since = new Date('2026-12-07T10:00:00Z');
  it.each([
    [71.99, false],
    [72, true],
    [80, true],
  ])('after %s hours of failing with a 72 h limit: %s', (hours, disabled) => {
    expect(failingTooLong(since, new Date(since.getTime() + hours * HOUR), 72 * HOUR)).toBe(disabled);
  });
});

describe('the retry schedule', () => {
  it('starts at the first delay and doubles', () => {
    expect(retryDelays({ windowMs: 60_000, firstDelayMs: 5_000 })).toEqual([5_000, 10_000, 20_000]);
  });

  it('never waits longer than the longest delay', () => {
    expect(retryDelays({ windowMs: 30_000, firstDelayMs: 1_000, maxDelayMs: 4_000 })).toEqual([1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000]);
    expect([1, 2, 3, 4, 10].map((n) => scheduledRetryDelay({ firstDelayMs: 1_000, maxDelayMs: 4_000 }, n))).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
    expect(scheduledRetryDelay({ firstDelayMs: 5_000 }, 30)).toBe(MAX_RETRY_DELAY_MS);
  });

  it('waits at most an hour between attempts and retries for the whole window (72 h: 81 attempts)', () => {
    const delays = retryDelays({ windowMs: 72 * HOUR, firstDelayMs: 5_000 });
    expect(Math.max(...delays)).toBe(MAX_RETRY_DELAY_MS);
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(72 * HOUR);
    expect(total + MAX_RETRY_DELAY_MS).toBeGreaterThanOrEqual(72 * HOUR);
    expect(delays.length + 1).toBe(81); // the first attempt and its retries
  });
});
