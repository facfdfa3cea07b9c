import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { payments, refunds } from '../../db/schema.js';
import { paymentEventFor } from '../../domain/payments/payment-events.js';
import { canTransition, type PaymentStatus } from '../../domain/payments/payment-status.js';
import { decideRefund, statusAfterRefund } from '../../domain/payments/refund-rules.js';
import { recordEvent, type EventWriter } from '../events/event-store.js';
import { PaymentNotFoundError, PaymentRuleError, recordPaymentEvent, refundView, type RefundRow } from './payment-store.js';

/*
 * The refund aggregate: a refund row reserves its amount of the payment's captured money from the
 * moment it is accepted until it is known to have failed. The API reserves and releases here, the
 * refund workflow records outcomes here; the refund rule is src/domain/payments/refund-rules.ts, the
 * one the payment's run applies too. A refund's outcome is announced (refund.succeeded or
 * refund.failed, and the payment's refunded or partially_refunded) in the transaction that records it.
 */

/** Records refund.succeeded or refund.failed with the refund as the API shows it, inside `tx`. */
async function recordRefundEvent(tx: EventWriter, refund: RefundRow): Promise<void> {
  const type = refund.status === 'succeeded' ? 'refund.succeeded' : 'refund.failed';
  await recordEvent(tx, { tenantId: refund.tenantId, type, resource: { type: 'refund', id: refund.id }, data: refundView(refund) });
}

export class RefundNotFoundError extends Error {
  override readonly name = 'RefundNotFoundError';
  constructor(readonly refundId: string) {
    super(`refund ${refundId} not found`);
  }
}

/** A refund as its reservation: what it holds and whether it is still to be carried out (`pending`). */
export interface RefundReservation {
  id: string;
  amount: number;
  status: string;
}

/**
 * Reserves a refund (id `re_...`) of the tenant's payment under the payment's row lock, so concurrent
 * refunds cannot together exceed what was captured. `claimWith` claims the request's idempotency key
 * in the same transaction: a replayed request reserves nothing and finds the refund it reserved first.
 * Throws PaymentNotFoundError, or PaymentRuleError with the refund rule's reason.
 */
export async function reserveRefund<Claim extends { kind: 'new' | 'replay'; resourceId: string }>(
  db: Db,
  input: { tenantId: string; paymentId: string; amount?: number; reason?: string },
  claimWith: (tx: Db, refundId: string) => Promise<Claim>,
): Promise<{ claim: Claim; refund: RefundReservation | null }> {
  const claim = await db.transaction(async (tx) => {
    const [p] = await tx
      .select()
      .from(payments)
      .where(and(eq(payments.id, input.paymentId), eq(payments.tenantId, input.tenantId)))
      .for('update');
    if (!p) throw new PaymentNotFoundError(input.paymentId);
    const claimed = await claimWith(tx, newId('re'));
    if (claimed.kind === 'replay') return claimed;
    const held = await tx.select({ amount: refunds.amount, status: refunds.status }).from(refunds).where(eq(refunds.paymentId, p.id));
    const verdict = decideRefund({ ...p, status: p.status as PaymentStatus }, held, input.amount);
    if (!verdict.ok) throw new PaymentRuleError(verdict.reason);
    await tx
      .insert(refunds)
      .values({ id: claimed.resourceId, paymentId: p.id, tenantId: input.tenantId, amount: verdict.amount, reason: input.reason ?? null });
    return claimed;
  });
  const [refund] = await db
    .select({ id: refunds.id, amount: refunds.amount, status: refunds.status })
    .from(refunds)
    .where(eq(refunds.id, claim.resourceId));
  return { claim, refund: refund ?? null };
}

/**
 * Releases a reservation that will not be carried out (the payment's run refused it): the refund fails
 * with `reason`, and refund.failed says so (only when this call moved it: a pending refund fails once).
 */
export async function releaseRefund(db: Db, refundId: string, reason: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [released] = await tx
      .update(refunds)
      .set({ status: 'failed', failureMessage: reason, updatedAt: new Date() })
      .where(and(eq(refunds.id, refundId), eq(refunds.status, 'pending')))
      .returning();
    if (released) await recordRefundEvent(tx, released);
  });
}

/**
 * Applies a refund's outcome and the payment's refunded amount in one transaction: a success adds to
 * the refunded amount and moves the payment forward (partially refunded, or refunded when nothing
 * captured is left); a failure releases the reservation; `pending` keeps it (with the gateway's
 * reference for lookups). Only a pending refund changes, so a re-run records nothing twice: the
 * refund's event and the payment's are written once, with the change. Answers the payment's status after it.
 */
export async function recordRefundOutcome(
  db: Db,
  input: { refundId: string; paymentId: string; status: 'succeeded' | 'failed' | 'pending'; reference?: string; message?: string },
): Promise<PaymentStatus> {
  return db.transaction(async (tx) => {
    const [refund] = await tx.select().from(refunds).where(eq(refunds.id, input.refundId)).for('update');
    if (!refund) throw new RefundNotFoundError(input.refundId);
    const [p] = await tx.select().from(payments).where(eq(payments.id, input.paymentId)).for('update');
    if (!p) throw new PaymentNotFoundError(input.paymentId);
    if (refund.status !== 'pending') return p.status as PaymentStatus;
    if (input.status === 'pending') {
      // Still open at the gateway: the amount stays reserved; keep its reference for lookups.
      if (input.reference) await tx.update(refunds).set({ gatewayReference: input.reference, updatedAt: new Date() }).where(eq(refunds.id, input.refundId));
      return p.status as PaymentStatus;
    }
    const [settled] = await tx
      .update(refunds)
      .set({ status: input.status, gatewayReference: input.reference ?? null, failureMessage: input.message ?? null, updatedAt: new Date() })
      .where(eq(refunds.id, input.refundId))
      .returning();
    await recordRefundEvent(tx, settled!);
    const from = p.status as PaymentStatus;
    if (input.status !== 'succeeded') return from;
    const to = statusAfterRefund(p.amountCaptured, p.amountRefunded + refund.amount);
    const move = canTransition(from, to);
    await tx
      .update(payments)
      .set({ amountRefunded: sql`${payments.amountRefunded} + ${refund.amount}`, ...(move ? { status: to } : {}), updatedAt: new Date() })
      .where(eq(payments.id, input.paymentId));
    // Each settled refund changes the payment (a second partial refund too): its event says how.
    const type = move ? paymentEventFor(from, to) : null;
    if (type) await recordPaymentEvent(tx, p.tenantId, type, p.id);
    return move ? to : from;
  });
}
