import type Stripe from 'stripe';
import type {
  AttemptRef,
  ChargeRequest,
  GatewayOutcome,
  GatewayWebhookEvent,
  HeaderBag,
  HealthProbe,
  PaymentGateway,
  RefundOutcome,
  RefundRequest,
} from '../types.js';
import { GatewayError, InvalidCredentialsError } from '../types.js';
import { AmountNotRepresentableError, toGatewayAmount } from '../../domain/payments/gateway-amounts.js';
import { STRIPE_CURRENCY_UNITS } from './stripe-currencies.js';
import { callStripe, classifyStripeError } from './error-classification.js';
import { outcomeOf } from './payment-intent-status.js';
import { parseStripeWebhook } from './webhook-events.js';

const STRIPE_CUSTOMER_ID = /^cus_[A-Za-z0-9]+$/;

/** Quotes a value for Stripe's search query language. */
function searchLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** ISO minor units → Stripe's units; an amount Stripe cannot take is refused before anything is sent. */
function stripeAmount(amount: number, currency: string): number {
  try {
    return toGatewayAmount(amount, currency, STRIPE_CURRENCY_UNITS);
  } catch (err) {
    if (err instanceof AmountNotRepresentableError) {
      throw new GatewayError('hard_decline', 'amount_not_representable', `Stripe: ${err.message}`);
    }
    throw err;
  }
}

function refundStatus(status: string | null): RefundOutcome['status'] {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'failed' || status === 'canceled') return 'failed';
  return 'pending';
}

/** One Stripe connection's client. Every method throws GatewayError (or InvalidCredentialsError). */
export class StripeGateway implements PaymentGateway {
  constructor(
    private readonly stripe: Stripe,
    private readonly webhookSecret: string | undefined,
  ) {}

  async verifyCredentials(): Promise<{ account: string }> {
    const balance = await callStripe(() => this.stripe.balance.retrieve());
    return { account: `stripe (livemode=${String(balance.livemode)})` };
  }

  async authorize(req: ChargeRequest): Promise<GatewayOutcome> {
    const isStripeCustomer = req.customerId !== undefined && STRIPE_CUSTOMER_ID.test(req.customerId);
    const params: Stripe.PaymentIntentCreateParams = {
      amount: stripeAmount(req.amount, req.currency),
      currency: req.currency.toLowerCase(),
      payment_method: req.paymentMethod,
      confirm: true,
      capture_method: req.captureMode === 'manual' ? 'manual' : 'automatic',
      // A server-side confirmation has no page to return to.
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: {
        ...req.metadata,
        ...(req.customerId && !isStripeCustomer ? { customer_id: req.customerId } : {}),
        payment_id: req.paymentId,
        attempt_key: req.idempotencyKey,
      },
      ...(isStripeCustomer ? { customer: req.customerId } : {}),
      ...(req.description ? { description: req.description } : {}),
    };
    const intent = await callStripe(() =>
      this.stripe.paymentIntents.create(params, { idempotencyKey: req.idempotencyKey }),
    );
    return outcomeOf(intent);
  }

  async lookup(ref: AttemptRef): Promise<GatewayOutcome | null> {
    if (ref.reference) {
      try {
        return outcomeOf(await this.stripe.paymentIntents.retrieve(ref.reference));
      } catch (error) {
        const classified = classifyStripeError(error);
        if (classified instanceof GatewayError && classified.code === 'resource_missing') return null;
        throw classified;
      }
    }
    const result = await callStripe(() =>
      this.stripe.paymentIntents.search({
        query: `metadata['attempt_key']:${searchLiteral(ref.idempotencyKey)}`,
        limit: 10,
      }),
    );
    // One attempt key maps to one PaymentIntent (it is also the create call's idempotency key).
    const intent = result.data[0];
    return intent ? outcomeOf(intent) : null;
  }

  async capture(reference: string, amount: number, idempotencyKey: string, currency: string): Promise<GatewayOutcome> {
    const amountToCapture = stripeAmount(amount, currency);
    const intent = await callStripe(() =>
      this.stripe.paymentIntents.capture(reference, { amount_to_capture: amountToCapture }, { idempotencyKey }),
    );
    return outcomeOf(intent);
  }

  async cancel(reference: string, idempotencyKey: string): Promise<GatewayOutcome> {
    const intent = await callStripe(() =>
      this.stripe.paymentIntents.cancel(reference, {}, { idempotencyKey }),
    );
    return outcomeOf(intent);
  }

  async refund(req: RefundRequest): Promise<RefundOutcome> {
    const amount = stripeAmount(req.amount, req.currency);
    const refund = await callStripe(() =>
      this.stripe.refunds.create(
        { payment_intent: req.reference, amount, metadata: { payment_id: req.paymentId } },
        { idempotencyKey: req.idempotencyKey },
      ),
    );
    return { status: refundStatus(refund.status), reference: refund.id };
  }

  async lookupRefund(refundReference: string): Promise<RefundOutcome | null> {
    try {
      const refund = await this.stripe.refunds.retrieve(refundReference);
      return { status: refundStatus(refund.status), reference: refund.id };
    } catch (error) {
      const classified = classifyStripeError(error);
      if (classified instanceof GatewayError && classified.code === 'resource_missing') return null;
      throw classified;
    }
  }

  /** Stripe answers a repeated Idempotency-Key with the first result (for 24 hours). */
  replaysWithKey(): boolean {
    return true;
  }

  /** Stripe events are signed, but a PaymentIntent is cheap to retrieve: confirm anyway (defense in depth). */
  readonly confirmsCallbacks = true;

  async checkHealth(): Promise<HealthProbe> {
    const started = performance.now();
    try {
      await callStripe(() => this.stripe.balance.retrieve());
      return { ok: true, latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      const latencyMs = Math.round(performance.now() - started);
      if (error instanceof GatewayError) {
        return {
          ok: false,
          latencyMs,
          detail: `${error.classification}: ${error.code}${error.httpStatus ? ` (HTTP ${error.httpStatus})` : ''}`,
        };
      }
      if (error instanceof InvalidCredentialsError)
        return { ok: false, latencyMs, detail: `invalid_credentials: ${error.message}` };
      throw error;
    }
  }

  parseWebhook(rawBody: Buffer, headers: HeaderBag): GatewayWebhookEvent {
    return parseStripeWebhook(rawBody, headers, this.webhookSecret);
  }
}
