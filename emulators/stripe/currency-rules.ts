/**
 * Stripe's amount rules (https://docs.stripe.com/currencies: zero-decimal currencies, special cases,
 * amount limits), applied to what reaches the emulator. Kept apart from the adapter's table on purpose:
 * the emulator stands in for Stripe, so a conversion bug in the adapter shows up as a refused or wrong
 * amount here instead of being agreed with by the same code.
 */
import { invalidRequest } from './stripe-errors.js';

const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);
/** "The amount value supports up to eight digits." */
const MAX_AMOUNT = 99_999_999;

/** Decimal places of Stripe's amount unit for a (lower-case) currency. */
export function stripeExponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

/** "10.50 EUR", "1050 JPY", as Stripe's messages show amounts. */
export function formatAmount(amount: number, currency: string): string {
  const exponent = stripeExponent(currency);
  const value = (amount / 10 ** exponent).toFixed(exponent);
  return currency === 'usd' ? `$${value}` : `${value} ${currency.toUpperCase()}`;
}

/** Throws Stripe's invalid_request_error for an amount Stripe refuses in this currency. */
export function checkAmount(amount: number, currency: string, param: string): void {
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${formatAmount(MAX_AMOUNT, currency)}`, {
      code: 'amount_too_large',
      param,
    });
  }
  if (currency === 'isk' && amount % 100 !== 0) {
    throw invalidRequest(
      'Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts must be evenly divisible by 100.',
      { code: 'invalid_charge_amount_no_decimal_compatible', param },
    );
  }
  if (THREE_DECIMAL.has(currency) && amount % 10 !== 0) {
    throw invalidRequest(
      `Invalid amount: ${currency.toUpperCase()} amounts must end in 0 (round to the nearest ten).`,
      {
        code: 'invalid_charge_amount',
        param,
      },
    );
  }
}
