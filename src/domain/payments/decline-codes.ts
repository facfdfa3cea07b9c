/**
 * One vocabulary for why a payment attempt did not succeed, whatever the gateway. Each connector maps
 * its raw codes onto it as data (Stripe adapter: src/providers/stripe/stripe-decline-codes.ts; declarative
 * providers: `declineCodes` in their file), in the spirit of Hyperswitch's gsm table (connector,
 * code → unified code), so a merchant can act on `insufficient_funds` the same way everywhere.
 */
export const UNIFIED_DECLINE_CODES = [
  'insufficient_funds',
  'card_declined',
  'expired_card',
  'incorrect_cvc',
  'invalid_card',
  'lost_or_stolen_card',
  'do_not_honor',
  'fraud_suspected',
  'limit_exceeded',
  'authentication_required',
  'card_not_supported',
  'currency_not_supported',
  'invalid_amount',
  'try_again_later',
  'processing_error',
] as const;
export type UnifiedDeclineCode = (typeof UNIFIED_DECLINE_CODES)[number];

/** A connector's raw code → unified code. */
export type DeclineCodeMap = Readonly<Record<string, UnifiedDeclineCode>>;

/**
 * The unified code of an attempt's failure: the connector's mapping when it knows the raw code,
 * otherwise the generic code of its class (a decline is `card_declined`, a gateway fault
 * `processing_error`). Null for an attempt without an error.
 */
export function unifyDeclineCode(
  map: DeclineCodeMap | undefined,
  rawCode: string | null | undefined,
  errorClass: string | null | undefined,
): UnifiedDeclineCode | null {
  if (!rawCode && !errorClass) return null;
  if (rawCode && map && Object.hasOwn(map, rawCode)) return map[rawCode]!;
  return errorClass === 'hard_decline' ? 'card_declined' : 'processing_error';
}
