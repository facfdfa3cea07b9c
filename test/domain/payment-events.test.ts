import { describe, expect, it } from 'vitest';
import { EVENT_CATALOG } from '../../src/domain/events/event-types.js';
import { paymentEventFor } from '../../src/domain/payments/payment-events.js';
import { canTransition, PAYMENT_STATUSES, type PaymentStatus } from '../../src/domain/payments/payment-status.js';

/** The event of every move the status machine allows, by target (and source where it matters). */
const EXPECTED: [from: PaymentStatus | '*', to: PaymentStatus, event: string | null][] = [
  ['*', 'processing', null],
  ['*', 'unknown', null],
  ['*', 'requires_action', 'payment.requires_action'],
  ['*', 'authorized', 'payment.authorized'],
  ['authorized', 'succeeded', 'payment.captured'],
  ['*', 'succeeded', 'payment.succeeded'],
  ['*', 'failed', 'payment.failed'],
  ['*', 'canceled', 'payment.canceled'],
  ['*', 'partially_refunded', 'payment.partially_refunded'],
  ['*', 'refunded', 'payment.refunded'],
];

const expectedFor = (from: PaymentStatus, to: PaymentStatus) =>
  EXPECTED.find(([f, t]) => t === to && (f === from || f === '*'))![2];

const moves = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.filter((to) => canTransition(from, to)).map((to) => [from, to] as const));

describe('paymentEventFor', () => {
  it.each(moves)('%s -> %s', (from, to) => {
    expect(paymentEventFor(from, to)).toBe(expectedFor(from, to));
  });

  it('names only catalog types, and every payment type of the catalog is announced by some move', () => {
    const announced = new Set(moves.map(([from, to]) => paymentEventFor(from, to)).filter((t) => t !== null));
    for (const type of announced) expect(Object.hasOwn(EVENT_CATALOG, type)).toBe(true);
    const paymentTypes = Object.keys(EVENT_CATALOG).filter((t) => t.startsWith('payment.'));
    expect([...announced].sort()).toEqual(paymentTypes.sort());
  });

  it('a manual-capture payment captured is payment.captured; every other success is payment.succeeded', () => {
    expect(paymentEventFor('authorized', 'succeeded')).toBe('payment.captured');
    for (const from of ['pending', 'processing', 'unknown', 'requires_action'] as const) expect(paymentEventFor(from, 'succeeded')).toBe('payment.succeeded');
  });
});
