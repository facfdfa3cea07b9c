import { describe, expect, it } from 'vitest';
import { decideCapture, isCapturable } from '../../src/domain/payments/capture-rules.js';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../src/domain/payments/payment-status.js';
import {
  decideRefund,
  isRefundable,
  reservedByRefunds,
  statusAfterRefund,
  type RefundHold,
} from '../../src/domain/payments/refund-rules.js';

const REFUNDABLE: PaymentStatus[] = ['succeeded', 'partially_refunded'];

describe('isRefundable', () => {
  it.each(PAYMENT_STATUSES.map((s) => [s, REFUNDABLE.includes(s)] as const))('%s -> %s', (status, expected) => {
    expect(isRefundable(status)).toBe(expected);
  });
});

describe('reservedByRefunds', () => {
  it.each<[string, RefundHold[], number]>([
    ['none', [], 0],
    ['a pending refund holds its amount', [{ amount: 300, status: 'pending' }], 300],
    ['a succeeded refund holds its amount', [{ amount: 300, status: 'succeeded' }], 300],
    ['a failed refund holds nothing', [{ amount: 300, status: 'failed' }], 0],
    [
      'mixed',
      [
        { amount: 100, status: 'succeeded' },
        { amount: 200, status: 'failed' },
        { amount: 400, status: 'pending' },
      ],
      500,
    ],
  ])('%s', (_name, refunds, expected) => {
    expect(reservedByRefunds(refunds)).toBe(expected);
  });
});

describe('decideRefund', () => {
  const captured = (status: PaymentStatus, amountCaptured = 1000) => ({ id: 'pay_1', status, amountCaptured });

  it.each<[string, PaymentStatus, RefundHold[], number | undefined, number]>([
    ['everything by default', 'succeeded', [], undefined, 1000],
    ['what is left by default', 'partially_refunded', [{ amount: 300, status: 'succeeded' }], undefined, 700],
    ['a part', 'succeeded', [], 250, 250],
    ['exactly what is left', 'partially_refunded', [{ amount: 300, status: 'pending' }], 700, 700],
    ['past a failed refund', 'succeeded', [{ amount: 1000, status: 'failed' }], 1000, 1000],
  ])('allows %s', (_name, status, refunds, requested, amount) => {
    expect(decideRefund(captured(status), refunds, requested)).toEqual({ ok: true, amount });
  });

  it.each(PAYMENT_STATUSES.filter((s) => !REFUNDABLE.includes(s)))('refuses a %s payment', (status) => {
    expect(decideRefund(captured(status), [], 100)).toEqual({
      ok: false,
      reason: `payment pay_1 is ${status}; only captured payments can be refunded`,
    });
  });

  it.each<[string, RefundHold[], number | undefined, string]>([
    [
      'more than captured',
      [],
      1001,
      'refund of 1001 exceeds the refundable amount 1000 (captured 1000, already refunded or pending 0)',
    ],
    [
      'more than pending refunds leave',
      [{ amount: 600, status: 'pending' }],
      401,
      'refund of 401 exceeds the refundable amount 400 (captured 1000, already refunded or pending 600)',
    ],
    [
      'the default when nothing is left',
      [{ amount: 1000, status: 'succeeded' }],
      undefined,
      'refund of 0 exceeds the refundable amount 0 (captured 1000, already refunded or pending 1000)',
    ],
    ['zero', [], 0, 'refund of 0 exceeds the refundable amount 1000 (captured 1000, already refunded or pending 0)'],
    ['a negative amount', [], -5, 'refund of -5 exceeds the refundable amount 1000 (captured 1000, already refunded or pending 0)'],
    ['a fraction', [], 10.5, 'refund of 10.5 exceeds the refundable amount 1000 (captured 1000, already refunded or pending 0)'],
  ])('refuses %s', (_name, refunds, requested, reason) => {
    expect(decideRefund(captured('succeeded'), refunds, requested)).toEqual({ ok: false, reason });
  });
});

describe('statusAfterRefund', () => {
  it.each([
    [1000, 300, 'partially_refunded'],
    [1000, 999, 'partially_refunded'],
    [1000, 1000, 'refunded'],
    [1000, 1200, 'refunded'],
  ] as const)('captured %i, refunded %i -> %s', (amountCaptured, amountRefunded, expected) => {
    expect(statusAfterRefund(amountCaptured, amountRefunded)).toBe(expected);
  });
});

describe('isCapturable', () => {
  it.each(PAYMENT_STATUSES.map((s) => [s, s === 'authorized'] as const))('%s -> %s', (status, expected) => {
    expect(isCapturable(status)).toBe(expected);
  });
});

describe('decideCapture', () => {
  const authorized = (status: PaymentStatus = 'authorized') => ({ id: 'pay_1', status, amount: 1050 });

  it.each<[string, number | undefined, number]>([
    ['the authorized amount by default', undefined, 1050],
    ['the authorized amount', 1050, 1050],
    ['less than authorized', 500, 500],
  ])('allows %s', (_name, requested, amount) => {
    expect(decideCapture(authorized(), requested)).toEqual({ ok: true, amount });
  });

  it.each(PAYMENT_STATUSES.filter((s) => s !== 'authorized'))('refuses a %s payment', (status) => {
    expect(decideCapture(authorized(status), 100)).toEqual({
      ok: false,
      reason: `payment pay_1 is ${status}; only authorized payments can be captured`,
    });
  });

  it.each<[string, number, string]>([
    ['more than authorized', 1051, 'capture of 1051 exceeds the authorized 1050'],
    ['zero', 0, 'capture of 0 exceeds the authorized 1050'],
    ['a negative amount', -1, 'capture of -1 exceeds the authorized 1050'],
    ['a fraction', 1.5, 'capture of 1.5 exceeds the authorized 1050'],
  ])('refuses %s', (_name, requested, reason) => {
    expect(decideCapture(authorized(), requested)).toEqual({ ok: false, reason });
  });
});
