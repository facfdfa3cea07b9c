import Stripe from 'stripe';
import type { GatewayWebhookEvent, HeaderBag } from '../types.js';
import { WebhookSignatureError } from '../types.js';
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
    throw new WebhookSignatureError('Stripe webhook body is not a valid event');
  }
  const object: object = event.data.object;
  if (event.type.startsWith('payment_intent.')) {
    const intent = object as Stripe.PaymentIntent;
    return {
      eventId: event.id,
      type: event.type,
      reference: intent.id,
      ...(intent.metadata['payment_id'] ? { paymentId: intent.metadata['payment_id'] } : {}),
      status: gatewayStatusOf(intent.status),
    };
  }
  const reference = stringField(object, 'payment_intent');
  const paymentId = paymentIdOf(object);
  return {
    eventId: event.id,
    type: event.type,
    ...(reference ? { reference } : {}),
    ...(paymentId ? { paymentId } : {}),
  };
}
