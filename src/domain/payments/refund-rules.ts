import type { PaymentStatus } from './payment-status.js';

/*
 * When a payment may be refunded and by how much. The API (refund store) and the payment's run
 * (its refund update) both decide with these, so the rule and its wording live once.
 */

/** Only captured money can be refunded: an authorization is voided (canceled) instead. */
const REFUNDABLE: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'partially_refunded']);

export function isRefundable(status: PaymentStatus): boolean {
  return REFUNDABLE.has(status);
}

/** A refund as far as the refundable amount goes: its amount, and whether it failed. */
export interface RefundHold {
  amount: number;
  status: string;
}

/** What refunds hold of the captured amount: every refund that has not failed, pending ones included. */
export function reservedByRefunds(refunds: Iterable<RefundHold>): number {
  let reserved = 0;
  for (const r of refunds) if (r.status !== 'failed') reserved += r.amount;
  return reserved;
}

/** A request's verdict: the amount to act on, or why it is refused (a 409 from the API, a refused update in the run). */
export type AftercareVerdict = { ok: true; amount: number } | { ok: false; reason: string };

/**
 * Decides a refund of `requested` minor units (default: everything not yet refunded): never more
 * than captured minus what other refunds hold, never zero or less, and only of a captured payment.
 */
export function decideRefund(
  payment: { id: string; status: PaymentStatus; amountCaptured: number },
  refunds: Iterable<RefundHold>,
  requested?: number,
): AftercareVerdict {
  if (!isRefundable(payment.status)) {
    return { ok: false, reason: `payment ${payment.id} is ${payment.status}; only captured payments can be refunded` };
  }
  const reserved = reservedByRefunds(refunds);
  const refundable = payment.amountCaptured - reserved;
  const amount = requested ?? refundable;
  if (!Number.isInteger(amount) || amount <= 0 || amount > refundable) {
    return {
      ok: false,
      reason: `refund of ${amount} exceeds the refundable amount ${refundable} (captured ${payment.amountCaptured}, already refunded or pending ${reserved})`,
    };
  }
  return { ok: true, amount };
}

/** The payment's status once a refund has succeeded: refunded when nothing captured is left. */
export function statusAfterRefund(amountCaptured: number, amountRefunded: number): 'refunded' | 'partially_refunded' {
  return amountRefunded >= amountCaptured ? 'refunded' : 'partially_refunded';
}
