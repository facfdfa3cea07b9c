/**
 * How Stripe counts amounts, where it differs from ISO 4217 (https://docs.stripe.com/currencies,
 * "Zero-decimal currencies" and "Special cases"). Data next to the connector: the adapter converts
 * every amount it sends and reads through this table.
 */
import type { CurrencyUnits } from '../../domain/payments/gateway-amounts.js';
import { currencyExponent } from '../../domain/currencies.js';

/** Stripe's zero-decimal currencies: amounts are whole units. */
const ZERO_DECIMAL = [
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
];

/** Three-decimal currencies: Stripe's partners require the last digit to be 0. */
const THREE_DECIMAL = ['BHD', 'JOD', 'KWD', 'OMR', 'TND'];

export const STRIPE_CURRENCY_UNITS: CurrencyUnits = Object.freeze({
  ...Object.fromEntries(ZERO_DECIMAL.map((c) => [c, { exponent: 0 }])),
  ...Object.fromEntries(THREE_DECIMAL.map((c) => [c, { exponent: 3, multipleOf: 10 }])),
  // ISK is zero-decimal in ISO 4217, but Stripe keeps it two-decimal for backwards compatibility and
  // requires whole krónur: 5 ISK is sent as 500.
  ISK: { exponent: 2, multipleOf: 100 },
  // HUF and TWD are charged as two-decimal amounts (as in ISO); only payouts must be whole units, and
  // Switchyard creates no payouts. Listed so the table states every special case of the documentation.
  HUF: { exponent: 2 },
  TWD: { exponent: 2 },
});

// The table must only name currencies the platform knows (a typo would silently fall back to ISO).
for (const code of Object.keys(STRIPE_CURRENCY_UNITS)) currencyExponent(code);
