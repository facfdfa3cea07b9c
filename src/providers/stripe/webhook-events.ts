import Stripe from 'stripe';
import type { GatewayWebhookEvent, HeaderBag } from '../types.js';
import { WebhookPayloadError, WebhookSignatureError } from '../types.js';
import { gatewayStatusOf } from './payment-intent-status.js';

/** Stripe's default tolerance: a signature older than five minutes is refused (replay protection). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

function header(headers: HeaderBag, name: string): string | undefined {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(entry) ? entry[0] : entry;
}

function stringField(object: object, field: string): string | undefined {
  const value: unknown = (object as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

function paymentIdOf(object: object): string | undefined {
  const metadata: unknown = (object as Record<string, unknown>)['metadata'];
  if (!metadata || typeof metadata !== 'object') return undefined;
  return stringField(metadata, 'payment_id');
}

/**
 * Verifies `Stripe-Signature` over the raw bytes with the connection's signing secret, then maps
 * the event. PaymentIntent events carry the intent's status; others (refunds, charges) only
 * point at the PaymentIntent they concern.
 */
export function parseStripeWebhook(
  rawBody: Buffer,
  headers: HeaderBag,
  webhookSecret: string | undefined,
): GatewayWebhookEvent {
  if (!webhookSecret)
    throw new WebhookSignatureError('No Stripe webhook signing secret is configured for this connection');
  const signature = header(headers, 'stripe-signature');
  if (!signature) throw new WebhookSignatureError('Missing Stripe-Signature header');
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, webhookSecret, WEBHOOK_TOLERANCE_SECONDS);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new WebhookSignatureError(`Stripe webhook signature rejected: ${error.message}`);
    }
    throw new WebhookPayloadError('Stripe webhook body is not JSON');
  }
  // Signed is not the same as well-formed: the fields read below must have their documented types.
  const data: unknown = (event as { data?: unknown }).data;
  const object: unknown = data && typeof data === 'object' ? (data as { object?: unknown }).object : undefined;
  if (typeof event.id !== 'string' || event.id === '' || typeof event.type !== 'string' || !object || typeof object !== 'object') {
    throw new WebhookPayloadError('Stripe webhook body is not an event (needs a string id and type, and data.object)');
  }
  const paymentId = paymentIdOf(object);
  if (event.type.startsWith('payment_intent.')) {
    const intentId = stringField(object, 'id');
    const status = stringField(object, 'status');
    if (!intentId || !status) throw new WebhookPayloadError('Stripe payment_intent event without a string id and status');
    return {
      eventId: event.id,
      type: event.type,
      reference: intentId,
      ...(paymentId ? { paymentId } : {}),
      status: gatewayStatusOf(status as Stripe.PaymentIntent.Status),
    };
  }
  const reference = stringField(object, 'payment_intent');
  return {
    eventId: event.id,
    type: event.type,
    ...(reference ? { reference } : {}),
    ...(paymentId ? { paymentId } : {}),
  };
}
