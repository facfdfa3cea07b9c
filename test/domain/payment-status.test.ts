import { describe, expect, it } from 'vitest';
import {
  GATEWAY_STATUSES,
  PAYMENT_STATUSES,
  canTransition,
  hasOutcome,
  isFinalAtGateway,
  isTerminal,
  paymentStatusFor,
  takesAftercare,
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

/** The status sets, written out for every status: a status added to or dropped from a set fails here. */
const SETS: Record<PaymentStatus, { outcome: boolean; aftercare: boolean }> = {
  pending: { outcome: false, aftercare: false },
  processing: { outcome: false, aftercare: false },
  unknown: { outcome: false, aftercare: false },
  requires_action: { outcome: true, aftercare: false },
  authorized: { outcome: true, aftercare: true },
  succeeded: { outcome: true, aftercare: true },
  partially_refunded: { outcome: true, aftercare: true },
  refunded: { outcome: true, aftercare: false },
  failed: { outcome: true, aftercare: false },
  canceled: { outcome: true, aftercare: false },
};

describe('hasOutcome (200 rather than 202 from the API)', () => {
  it.each(PAYMENT_STATUSES.map((s) => [s, SETS[s].outcome] as const))('%s -> %s', (status, expected) => {
    expect(hasOutcome(status)).toBe(expected);
  });
});

describe('takesAftercare (the run stays open for refunds and captures)', () => {
  it.each(PAYMENT_STATUSES.map((s) => [s, SETS[s].aftercare] as const))('%s -> %s', (status, expected) => {
    expect(takesAftercare(status)).toBe(expected);
  });
});

describe('isFinalAtGateway (an attempt stops waiting for callbacks and polls)', () => {
  it.each([
    ['pending', false],
    ['requires_action', false],
    ['authorized', true],
    ['succeeded', true],
    ['failed', true],
    ['canceled', true],
  ] as const)('%s -> %s', (status, expected) => {
    expect(isFinalAtGateway(status)).toBe(expected);
  });

  it('names every gateway status', () => {
    expect(GATEWAY_STATUSES).toHaveLength(6);
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
