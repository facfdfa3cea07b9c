/**
 * PaymentIntent and Refund behaviour: the state machine Stripe applies on confirm, capture, cancel
 * and refund, the charges it creates, and the events each change emits.
 */
import {
  buildCharge,
  buildPaymentIntent,
  buildPaymentMethod,
  buildRefund,
  type BalanceObject,
  type CancellationReason,
  type ChargeObject,
  type PaymentIntentObject,
  type PaymentIntentStatus,
  type RefundObject,
  type StripeErrorBody,
} from './objects.js';
import type { RequestContext, StripeEmulatorStore } from './store.js';
import { StripeApiError, invalidRequest, resourceMissing } from './stripe-errors.js';
import { testCardFor } from './test-payment-methods.js';
import { checkAmount, formatAmount } from './currency-rules.js';

export interface CreatePaymentIntentInput {
  amount: number;
  currency: string;
  captureMethod: 'automatic' | 'manual';
  confirmationMethod: 'automatic' | 'manual';
  confirm: boolean;
  paymentMethod: string | null;
  customer: string | null;
  description: string | null;
  metadata: Record<string, string>;
  paymentMethodTypes: string[];
  automaticPaymentMethods: PaymentIntentObject['automatic_payment_methods'];
}


function stateError(intent: PaymentIntentObject, message: string): StripeApiError {
  const error = invalidRequest(message, { code: 'payment_intent_unexpected_state' });
  error.body.payment_intent = structuredClone(intent);
  return error;
}

const CANCELABLE: readonly PaymentIntentStatus[] = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
];

export class PaymentFlow {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: StripeEmulatorStore,
    /** How long `pm_emulator_processing` stays in `processing` before it succeeds. */
    private readonly processingSettleMs: number,
  ) {}

  retrieve(ctx: RequestContext, id: string): PaymentIntentObject {
    const intent = this.store.paymentIntents.get(ctx.account, id);
    if (!intent) throw resourceMissing('payment_intent', id, 'intent');
    return intent;
  }

  create(ctx: RequestContext, input: CreatePaymentIntentInput): PaymentIntentObject {
    if (input.amount < 1) {
      throw invalidRequest('This value must be greater than or equal to 1.', {
        code: 'parameter_invalid_integer',
        param: 'amount',
      });
    }
    checkAmount(input.amount, input.currency, 'amount');
    const intent = buildPaymentIntent(input);
    this.store.paymentIntents.set(ctx.account, intent.id, intent);
    this.store.emit(ctx, 'payment_intent.created', intent);
    if (input.confirm) this.confirm(ctx, intent, null);
    return intent;
  }

  /** Runs the payment method; a decline leaves the intent in requires_payment_method and throws a card error. */
  confirm(
    ctx: RequestContext,
    intent: PaymentIntentObject,
    paymentMethod: string | null,
  ): PaymentIntentObject {
    if (intent.status !== 'requires_payment_method' && intent.status !== 'requires_confirmation') {
      throw stateError(
        intent,
        intent.status === 'succeeded'
          ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
          : `You cannot confirm this PaymentIntent because it has a status of ${intent.status}.`,
      );
    }
    if (paymentMethod) intent.payment_method = paymentMethod;
    const method = intent.payment_method;
    if (!method) {
      throw stateError(
        intent,
        "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with a payment method, update it or pass `payment_method` when confirming.",
      );
    }
    const card = testCardFor(method);
    switch (card.behaviour.kind) {
      case 'decline': {
        const failure: StripeErrorBody = {
          type: 'card_error',
          code: card.behaviour.code,
          decline_code: card.behaviour.declineCode,
          message: card.behaviour.message,
          doc_url: 'https://stripe.com/docs/error-codes/card-declined',
        };
        const charge = this.addCharge(ctx, intent, { status: 'failed', failure });
        failure.charge = charge.id;
        failure.payment_method = buildPaymentMethod(method, card);
        intent.last_payment_error = failure;
        intent.payment_method = null;
        intent.status = 'requires_payment_method';
        this.store.emit(ctx, 'payment_intent.payment_failed', intent);
        throw new StripeApiError(402, { ...failure, payment_intent: structuredClone(intent) });
      }
      case 'requires_action':
        intent.status = 'requires_action';
        intent.next_action = {
          type: 'use_stripe_sdk',
          use_stripe_sdk: {
            type: 'three_d_secure_redirect',
            stripe_js: `https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=${intent.id}`,
          },
        };
        this.store.emit(ctx, 'payment_intent.requires_action', intent);
        return intent;
      case 'processing': {
        intent.status = 'processing';
        intent.processing = { type: 'card' };
        this.store.emit(ctx, 'payment_intent.processing', intent);
        // Settles later, outside any request (Stripe's events then carry `request.id: null`).
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (intent.status === 'processing')
            this.chargeSucceeded({ ...ctx, requestId: null, idempotencyKey: null }, intent);
        }, this.processingSettleMs);
        this.timers.add(timer);
        return intent;
      }
      case 'succeed':
        this.chargeSucceeded(ctx, intent);
        return intent;
    }
  }

  capture(
    ctx: RequestContext,
    intent: PaymentIntentObject,
    amountToCapture: number | undefined,
  ): PaymentIntentObject {
    if (intent.status !== 'requires_capture') {
      throw stateError(
        intent,
        `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
      );
    }
    const amount = amountToCapture ?? intent.amount_capturable;
    if (amount < 1 || amount > intent.amount_capturable) {
      throw invalidRequest(
        `The amount to capture (${amount}) must be between 1 and the amount capturable (${intent.amount_capturable}).`,
        { code: 'amount_too_large', param: 'amount_to_capture' },
      );
    }
    checkAmount(amount, intent.currency, 'amount_to_capture');
    const charge = this.latestCharge(ctx, intent);
    const previous = {
      amount_capturable: intent.amount_capturable,
      amount_received: intent.amount_received,
      status: intent.status,
    };
    if (charge) {
      charge.captured = true;
      charge.amount_captured = amount;
    }
    intent.amount_capturable = 0;
    intent.amount_received = amount;
    intent.status = 'succeeded';
    this.store.emit(ctx, 'payment_intent.succeeded', intent, previous);
    return intent;
  }

  cancel(
    ctx: RequestContext,
    intent: PaymentIntentObject,
    reason: CancellationReason | undefined,
  ): PaymentIntentObject {
    if (!CANCELABLE.includes(intent.status)) {
      throw stateError(
        intent,
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
      );
    }
    const charge = this.latestCharge(ctx, intent);
    if (charge && charge.status === 'succeeded' && !charge.captured) {
      // Releasing an authorisation shows as a full refund of the uncaptured charge.
      charge.amount_refunded = charge.amount;
      charge.refunded = true;
    }
    const previous = { status: intent.status };
    intent.amount_capturable = 0;
    intent.next_action = null;
    intent.canceled_at = Math.floor(Date.now() / 1000);
    intent.cancellation_reason = reason ?? null;
    intent.status = 'canceled';
    this.store.emit(ctx, 'payment_intent.canceled', intent, previous);
    return intent;
  }

  refund(
    ctx: RequestContext,
    input: {
      paymentIntent?: string;
      charge?: string;
      amount?: number;
      reason: RefundObject['reason'];
      metadata: Record<string, string>;
    },
  ): RefundObject {
    let charge: ChargeObject | undefined;
    if (input.charge) {
      charge = this.store.charges.get(ctx.account, input.charge);
      if (!charge) throw resourceMissing('charge', input.charge, 'charge');
    } else if (input.paymentIntent) {
      const intent = this.store.paymentIntents.get(ctx.account, input.paymentIntent);
      if (!intent) throw resourceMissing('payment_intent', input.paymentIntent, 'payment_intent');
      charge = this.latestCharge(ctx, intent);
      if (!charge || !charge.captured) {
        throw invalidRequest(
          `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
          {
            code: 'charge_not_refundable',
            param: 'payment_intent',
          },
        );
      }
    } else {
      throw invalidRequest(
        'One of the following params should be provided for this request: payment_intent or charge.',
        {
          code: 'parameter_missing',
        },
      );
    }
    const refundable = charge.amount_captured - charge.amount_refunded;
    if (refundable <= 0) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
        code: 'charge_already_refunded',
      });
    }
    const amount = input.amount ?? refundable;
    if (amount < 1) {
      throw invalidRequest('This value must be greater than or equal to 1.', {
        code: 'parameter_invalid_integer',
        param: 'amount',
      });
    }
    checkAmount(amount, charge.currency, 'amount');
    if (amount > refundable) {
      throw invalidRequest(
        `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(refundable, charge.currency)})`,
        { code: 'amount_too_large', param: 'amount' },
      );
    }
    const refund = buildRefund(charge, amount, input.reason, input.metadata);
    this.store.refunds.set(ctx.account, refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    charge.refunds.data.unshift(refund);
    this.store.emit(ctx, 'refund.created', refund);
    this.store.emit(ctx, 'charge.refunded', charge, { amount_refunded: charge.amount_refunded - amount });
    return refund;
  }

  balance(ctx: RequestContext): BalanceObject {
    const pendingByCurrency = new Map<string, number>();
    for (const charge of this.store.charges.list(ctx.account)) {
      const net = charge.amount_captured - charge.amount_refunded;
      if (net > 0)
        pendingByCurrency.set(charge.currency, (pendingByCurrency.get(charge.currency) ?? 0) + net);
    }
    if (pendingByCurrency.size === 0) pendingByCurrency.set('usd', 0);
    return {
      object: 'balance',
      available: [...pendingByCurrency.keys()].map((currency) => ({
        amount: 0,
        currency,
        source_types: { card: 0 },
      })),
      connect_reserved: [...pendingByCurrency.keys()].map((currency) => ({ amount: 0, currency })),
      livemode: false,
      pending: [...pendingByCurrency].map(([currency, amount]) => ({
        amount,
        currency,
        source_types: { card: amount },
      })),
    };
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private chargeSucceeded(ctx: RequestContext, intent: PaymentIntentObject): void {
    const charge = this.addCharge(ctx, intent, { status: 'succeeded' });
    const previous = { status: intent.status };
    intent.last_payment_error = null;
    intent.next_action = null;
    intent.processing = null;
    if (intent.capture_method === 'manual') {
      intent.amount_capturable = intent.amount;
      intent.status = 'requires_capture';
      this.store.recordSuccessfulCharge(intent);
      this.store.emit(ctx, 'payment_intent.amount_capturable_updated', intent, {
        ...previous,
        amount_capturable: 0,
      });
      return;
    }
    charge.captured = true;
    charge.amount_captured = intent.amount;
    intent.amount_received = intent.amount;
    intent.status = 'succeeded';
    this.store.recordSuccessfulCharge(intent);
    this.store.emit(ctx, 'payment_intent.succeeded', intent, { ...previous, amount_received: 0 });
  }

  private addCharge(
    ctx: RequestContext,
    intent: PaymentIntentObject,
    outcome: Parameters<typeof buildCharge>[1],
  ): ChargeObject {
    const charge = buildCharge(intent, outcome);
    this.store.charges.set(ctx.account, charge.id, charge);
    intent.latest_charge = charge.id;
    return charge;
  }

  private latestCharge(ctx: RequestContext, intent: PaymentIntentObject): ChargeObject | undefined {
    return intent.latest_charge ? this.store.charges.get(ctx.account, intent.latest_charge) : undefined;
  }
}
