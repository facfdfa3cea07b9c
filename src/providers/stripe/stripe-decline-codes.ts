/**
 * Stripe's decline and error codes (https://docs.stripe.com/declines/codes,
 * https://docs.stripe.com/error-codes) → the unified vocabulary. Codes not listed fall back to the
 * generic code of their class (see unifyDeclineCode).
 */
import type { DeclineCodeMap } from '../../domain/payments/decline-codes.js';

export const STRIPE_DECLINE_CODES: DeclineCodeMap = Object.freeze({
  insufficient_funds: 'insufficient_funds',
  generic_decline: 'card_declined',
  card_declined: 'card_declined',
  call_issuer: 'card_declined',
  expired_card: 'expired_card',
  incorrect_cvc: 'incorrect_cvc',
  invalid_cvc: 'incorrect_cvc',
  incorrect_number: 'invalid_card',
  invalid_number: 'invalid_card',
  invalid_expiry_month: 'invalid_card',
  invalid_expiry_year: 'invalid_card',
  lost_card: 'lost_or_stolen_card',
  stolen_card: 'lost_or_stolen_card',
  pickup_card: 'lost_or_stolen_card',
  do_not_honor: 'do_not_honor',
  fraudulent: 'fraud_suspected',
  merchant_blacklist: 'fraud_suspected',
  security_violation: 'fraud_suspected',
  card_velocity_exceeded: 'limit_exceeded',
  withdrawal_count_limit_exceeded: 'limit_exceeded',
  authentication_required: 'authentication_required',
  card_not_supported: 'card_not_supported',
  currency_not_supported: 'currency_not_supported',
  amount_too_large: 'invalid_amount',
  amount_too_small: 'invalid_amount',
  invalid_amount: 'invalid_amount',
  invalid_charge_amount_no_decimal_compatible: 'invalid_amount',
  amount_not_representable: 'invalid_amount',
  try_again_later: 'try_again_later',
  rate_limit: 'try_again_later',
  processing_error: 'processing_error',
  issuer_not_available: 'try_again_later',
});
