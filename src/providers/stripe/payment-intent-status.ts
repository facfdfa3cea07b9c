import type Stripe from 'stripe';
import type { GatewayStatus } from '../../domain/payments/payment-status.js';
import { fromGatewayAmount } from '../../domain/payments/gateway-amounts.js';
import type { GatewayOutcome } from '../types.js';
import { STRIPE_CURRENCY_UNITS } from './stripe-currencies.js';

type KnownStatus =
  | 'succeeded'
  | 'requires_capture'
  | 'requires_action'
  | 'requires_confirmation'
  | 'processing'
  | 'canceled'
  | 'requires_payment_method';

const STATUS: Record<KnownStatus, GatewayStatus> = {
  succeeded: 'succeeded',
  requires_capture: 'authorized',
  requires_action: 'requires_action',
  requires_confirmation: 'requires_action',
  processing: 'pending',
  canceled: 'canceled',
  // After a decline Stripe waits for another payment method: for this attempt, that is a failure.
  requires_payment_method: 'failed',
};

function isKnown(status: string): status is KnownStatus {
  return Object.hasOwn(STATUS, status);
}

/** A status Stripe adds in a later API version is treated as still pending: poll again later. */
export function gatewayStatusOf(status: Stripe.PaymentIntent.Status): GatewayStatus {
  return isKnown(status) ? STATUS[status] : 'pending';
}

export function outcomeOf(intent: Stripe.PaymentIntent): GatewayOutcome {
  const error = intent.last_payment_error;
  const declineCode = error ? (error.decline_code ?? error.code) : undefined;
  return {
    status: gatewayStatusOf(intent.status),
    reference: intent.id,
    ...(intent.amount_received > 0
      ? { amountCaptured: fromGatewayAmount(intent.amount_received, intent.currency, STRIPE_CURRENCY_UNITS) }
      : {}),
    ...(declineCode ? { declineCode } : {}),
    ...(error?.message ? { message: error.message } : {}),
  };
}
