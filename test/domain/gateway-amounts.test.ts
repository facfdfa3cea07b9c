import { describe, expect, it } from 'vitest';
import {
  AmountNotRepresentableError,
  fromGatewayAmount,
  toGatewayAmount,
} from '../../src/domain/payments/gateway-amounts.js';
import { STRIPE_CURRENCY_UNITS } from '../../src/providers/stripe/stripe-currencies.js';

describe("Stripe's units from ISO 4217 minor units", () => {
  it.each([
    ['USD', 1050, 1050],
    ['EUR', 1, 1],
    ['JPY', 500, 500],
    // ISO gives MGA two decimals, Stripe none: 2,500.00 MGA is sent as 2500, not 250000.
    ['MGA', 250_000, 2500],
    ['mga', 100, 1],
    // ISK: ISO zero-decimal, Stripe two-decimal for backwards compatibility: 5 ISK is 500.
    ['ISK', 5, 500],
    // HUF and TWD are charged as two-decimal amounts, as in ISO.
    ['HUF', 150_050, 150_050],
    ['TWD', 99, 99],
    ['UGX', 5000, 5000],
    ['KWD', 1050, 1050],
  ])('%s %i → %i', (currency, iso, stripe) => {
    expect(toGatewayAmount(iso, currency, STRIPE_CURRENCY_UNITS)).toBe(stripe);
    expect(fromGatewayAmount(stripe, currency, STRIPE_CURRENCY_UNITS)).toBe(iso);
  });

  it.each([
    ['MGA', 1050, /fraction/],
    ['KWD', 1055, /multiples of 10/],
  ])('%s %i cannot be sent without rounding', (currency, iso, message) => {
    expect(() => toGatewayAmount(iso, currency, STRIPE_CURRENCY_UNITS)).toThrow(AmountNotRepresentableError);
    expect(() => toGatewayAmount(iso, currency, STRIPE_CURRENCY_UNITS)).toThrow(message);
  });

  it('leaves currencies without an exception to ISO 4217, and refuses unknown ones', () => {
    expect(toGatewayAmount(1050, 'EUR', {})).toBe(1050);
    expect(() => toGatewayAmount(1, 'XYZ', {})).toThrow(/unknown ISO 4217/);
  });
});
