import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentActivities, RETRY_AFTER_CAP_MS } from '../../src/activities/payments/payment-activities.js';
import { parseRetryAfter } from '../../src/providers/retry-after.js';
import {
  setUpMerchant,
  startPayment,
  startPaymentsFixture,
  waitForPayment,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it.each([
    ['3', 3000],
    ['0', 0],
    [' 120 ', 120_000],
    ['Thu, 01 Jan 2026 12:00:05 GMT', 5000],
    ['Thursday, 01-Jan-26 12:00:07 GMT', 7000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
  ])('%j → %s ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each([[undefined], [null], [''], ['soon'], ['-1'], ['1.5'], ['1e3']])('%j → undefined', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());

/** Milliseconds between the first two of `times`. */
const gap = (times: number[]) => times[1]! - times[0]!;

describe('Retry-After on 429/503 sets the delay before the next attempt', () => {
  it('Stripe: a 503 with Retry-After: 3 is retried about 3 s later (the policy alone waits 0.5 s)', async () => {
    const m = await setUpMerchant(f);
    f.stripe.failNext({ pathPrefix: '/v1/payment_intents', method: 'POST', status: 503, retryAfter: '3' });
    const { id } = await startPayment(f, m);
    const paid = await waitForPayment(f, m, id);
    expect(paid.status).toBe('succeeded');
    expect(paid.attempts).toHaveLength(1);
    const sends = f.stripe
      .requests()
      .filter(
        (r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey === `${id}-1`,
      )
      .map((r) => Date.parse(r.at));
    expect(sends).toHaveLength(2);
    expect(gap(sends)).toBeGreaterThanOrEqual(2900);
  });

  it('a declarative provider: a 503 with an HTTP-date Retry-After waits until that date', async () => {
    const m = await setUpMerchant(f, (c) => [{ name: 'acme only', priority: 1, connectionIds: [c.acmeId] }]);
    // HTTP-dates have whole seconds: 5 s ahead is between 4 and 5 s from now.
    f.acme.failNext(1, 503, { path: '/v1/payments', retryAfter: new Date(Date.now() + 5000).toUTCString() });
    const before = f.acme.requestLog().length;
    const { id } = await startPayment(f, m);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    const sends = f.acme
      .requestLog()
      .slice(before)
      .filter((r) => r.method === 'POST' && r.path === '/v1/payments')
      .map((r) => r.at);
    expect(sends).toHaveLength(2);
    expect(gap(sends)).toBeGreaterThanOrEqual(3000);
  });

  it('status lookups carry the delay too, capped', async () => {
    const m = await setUpMerchant(f);
    const activities = createPaymentActivities({
      db: f.stack.database.db,
      cipher: f.stack.cipher,
      providers: f.stack.providers,
    });
    const lookup = () =>
      activities.queryGatewayStatus({
        tenantId: m.tenantId,
        connectionId: m.stripeId,
        ref: { paymentId: 'pay_x', attempt: 1, idempotencyKey: 'pay_x-1' },
      });
    const failureOf = async () => {
      const err = await lookup().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      return err as ApplicationFailure;
    };

    f.stripe.failNext({ pathPrefix: '/v1/payment_intents', method: 'GET', status: 429, retryAfter: '7' });
    expect(await failureOf()).toMatchObject({
      type: 'GatewayRetryable',
      nonRetryable: false,
      nextRetryDelay: 7000,
    });

    f.stripe.failNext({ pathPrefix: '/v1/payment_intents', method: 'GET', status: 503, retryAfter: '86400' });
    expect((await failureOf()).nextRetryDelay).toBe(RETRY_AFTER_CAP_MS);

    // Without the header the retry policy's own backoff applies.
    f.stripe.failNext({ pathPrefix: '/v1/payment_intents', method: 'GET', status: 503 });
    expect((await failureOf()).nextRetryDelay).toBeUndefined();
  });
});
