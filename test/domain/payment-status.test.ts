import { describe, expect, it } from 'vitest';
import {
  GATEWAY_STATUSES,
  PAYMENT_STATUSES,
  canTransition,
  isTerminal,
  paymentStatusFor,
  type PaymentStatus,
} from '../../src/domain/payments/payment-status.js';

/** The complete set of legal moves; every pair not listed here must be refused. */
const ALLOWED: Record<PaymentStatus, PaymentStatus[]> = {
  pending: ['processing', 'unknown', 'requires_action', 'authorized', 'succeeded', 'failed', 'canceled'],
  processing: ['unknown', 'requires_action', 'authorized', 'succeeded', 'failed', 'canceled'],
  unknown: ['processing', 'requires_action', 'authorized', 'succeeded', 'failed', 'canceled'],
  requires_action: ['authorized', 'succeeded', 'failed', 'canceled'],
  authorized: ['succeeded', 'failed', 'canceled'],
  succeeded: ['partially_refunded', 'refunded'],
  // Each further partial refund is a legitimate repeat of the same status.
  partially_refunded: ['partially_refunded', 'refunded'],
  refunded: [],
  failed: [],
  canceled: [],
};

const allPairs = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as const));

describe('canTransition', () => {
  it.each(allPairs)('%s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(ALLOWED[from].includes(to));
  });

  it.each([
    ['pending', 'refunded'],
    ['pending', 'partially_refunded'],
    ['authorized', 'refunded'],
    ['requires_action', 'partially_refunded'],
  ] as const)('refuses refunding money that was never captured: %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it.each([
    ['succeeded', 'processing'],
    ['succeeded', 'failed'],
    ['authorized', 'requires_action'],
    ['refunded', 'partially_refunded'],
    ['failed', 'succeeded'],
  ] as const)('refuses moving backwards: %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });
});

describe('isTerminal', () => {
  it.each(PAYMENT_STATUSES.map((s) => [s, ['failed', 'canceled', 'refunded'].includes(s)] as const))(
    '%s -> %s',
    (status, terminal) => {
      expect(isTerminal(status)).toBe(terminal);
    },
  );

  it.each(PAYMENT_STATUSES.filter(isTerminal))('%s has no way out', (status) => {
    expect(PAYMENT_STATUSES.filter((to) => canTransition(status, to))).toEqual([]);
  });
});

describe('paymentStatusFor', () => {
  it.each([
    ['pending', 'processing'],
    ['requires_action', 'requires_action'],
    ['authorized', 'authorized'],
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['canceled', 'canceled'],
  ] as const)('gateway %s -> payment %s', (gateway, payment) => {
    expect(paymentStatusFor(gateway)).toBe(payment);
  });

  it('maps every gateway status to a payment status', () => {
    for (const g of GATEWAY_STATUSES) expect(PAYMENT_STATUSES).toContain(paymentStatusFor(g));
  });
});

/** Applies updates the way the read model does: an illegal move is ignored. */
function replay(start: PaymentStatus, updates: PaymentStatus[]): PaymentStatus {
  return updates.reduce((status, next) => (canTransition(status, next) ? next : status), start);
}

describe('duplicated and out-of-order updates', () => {
  it.each<[string, PaymentStatus[], PaymentStatus]>([
    ['duplicate success callback', ['processing', 'succeeded', 'succeeded'], 'succeeded'],
    ['late pending after success', ['processing', 'succeeded', 'processing'], 'succeeded'],
    ['late failure after success', ['processing', 'succeeded', 'failed'], 'succeeded'],
    ['late success after failure', ['processing', 'failed', 'succeeded'], 'failed'],
    ['3DS then late pending then success', ['requires_action', 'processing', 'succeeded'], 'succeeded'],
    ['authorized then late requires_action', ['authorized', 'requires_action'], 'authorized'],
    ['ambiguous attempt resolved', ['processing', 'unknown', 'processing', 'succeeded'], 'succeeded'],
    [
      'refunds after capture',
      ['succeeded', 'partially_refunded', 'partially_refunded', 'refunded'],
      'refunded',
    ],
    ['late success after full refund', ['succeeded', 'refunded', 'succeeded'], 'refunded'],
    ['refund before capture ignored', ['authorized', 'refunded', 'succeeded'], 'succeeded'],
  ])('%s', (_name, updates, expected) => {
    expect(replay('pending', updates)).toBe(expected);
  });
});
