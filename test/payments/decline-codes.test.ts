import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unifyDeclineCode } from '../../src/domain/payments/decline-codes.js';
import {
  setUpMerchant,
  startPayment,
  startPaymentsFixture,
  waitForPayment,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

describe('unifyDeclineCode', () => {
  it.each([
    [{ do_not_honor: 'do_not_honor' } as const, 'do_not_honor', 'hard_decline', 'do_not_honor'],
    [{}, 'weird_code', 'hard_decline', 'card_declined'],
    [{}, 'http_503', 'retryable', 'processing_error'],
    [undefined, 'x', 'ambiguous', 'processing_error'],
    [{}, null, null, null],
    // Inherited object keys are not mappings.
    [{}, 'constructor', 'hard_decline', 'card_declined'],
  ])('%j: %s (%s) → %s', (map, raw, errorClass, unified) => {
    expect(unifyDeclineCode(map, raw, errorClass)).toBe(unified);
  });
});

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());

describe('each attempt shows the unified decline code beside the raw one', () => {
  it.each([
    ['stripe', 'pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds', 'insufficient_funds'],
    ['stripe', 'pm_card_chargeDeclined', 'generic_decline', 'card_declined'],
    ['acmepay', 'tok_insufficient_funds', 'insufficient_funds', 'insufficient_funds'],
    ['acmepay', 'tok_invalid', 'card_invalid', 'invalid_card'],
    ['acmepay', 'tok_declined', 'do_not_honor', 'do_not_honor'],
  ])('%s %s: raw %s → %s', async (provider, token, raw, unified) => {
    const m = await setUpMerchant(f, (c) => [
      { name: 'one', priority: 1, connectionIds: [provider === 'stripe' ? c.stripeId : c.acmeId] },
    ]);
    const { id } = await startPayment(f, m, { paymentMethod: { type: 'card', token } });
    const payment = await waitForPayment(f, m, id);
    expect(payment.status).toBe('failed');
    expect(payment.attempts).toEqual([
      expect.objectContaining({ provider, errorCode: raw, unifiedCode: unified }),
    ]);
  });

  it('a successful attempt has none', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m);
    const payment = await waitForPayment(f, m, id);
    expect(payment.attempts[0]).toMatchObject({ status: 'succeeded', errorCode: null, unifiedCode: null });
  });
});
