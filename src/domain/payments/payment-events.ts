import type { EventType } from '../events/event-types.js';
import type { PaymentStatus } from './payment-status.js';

/** The payment event types (the catalog's `payment.*`). */
export type PaymentEventType = Extract<EventType, `payment.${string}`>;

/**
 * The event a payment's move from `from` to `to` is announced with, or null for a move merchants are
 * not told about (pending, processing, unknown: the payment has no outcome yet). Succeeding from
 * `authorized` is the capture of a manual-capture payment: `payment.captured`, not a second
 * `payment.succeeded`. A partially refunded payment refunded in part again is `payment.partially_refunded`
 * again (the refunded amount changed). The caller has checked the move is a transition.
 */
export function paymentEventFor(from: PaymentStatus, to: PaymentStatus): PaymentEventType | null {
  switch (to) {
    case 'pending':
    case 'processing':
    case 'unknown':
      return null;
    case 'succeeded':
      return from === 'authorized' ? 'payment.captured' : 'payment.succeeded';
    default:
      return `payment.${to}`;
  }
}
