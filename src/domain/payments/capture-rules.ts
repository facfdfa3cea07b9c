import type { AftercareVerdict } from './refund-rules.js';
import type { PaymentStatus } from './payment-status.js';

/*
 * When a payment may be captured and for how much (manual capture mode). The API (payment store) and
 * the payment's run (its capture update) both decide with these, so the rule and its wording live once.
 */

/** Only an authorization can be captured. */
export function isCapturable(status: PaymentStatus): boolean {
  return status === 'authorized';
}

/** Decides a capture of `requested` minor units (default: the authorized amount): more than nothing, at most the authorized amount. */
export function decideCapture(
  payment: { id: string; status: PaymentStatus; amount: number },
  requested?: number,
): AftercareVerdict {
  if (!isCapturable(payment.status)) {
    return { ok: false, reason: `payment ${payment.id} is ${payment.status}; only authorized payments can be captured` };
  }
  const amount = requested ?? payment.amount;
  if (!Number.isInteger(amount) || amount <= 0 || amount > payment.amount) {
    return { ok: false, reason: `capture of ${amount} exceeds the authorized ${payment.amount}` };
  }
  return { ok: true, amount };
}
