import { and, eq, inArray, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { payments, paymentAttempts, refunds } from '../../db/schema.js';
import type { PaymentStatus } from '../../domain/payments/payment-status.js';
import type { PaymentMethodType } from '../../domain/payments/routing.js';
import type { PaymentWorkflowInput, RefundWorkflowInput } from '../../shared/payment-messages.js';

/** Abandoned attempts: canceled after no final status in time, or never received after two sends. */
export const ABANDONED_CODES = ['gateway_timeout', 'not_received'] as const;

/** An attempt reconciliation asks its gateway about again. */
export interface ReconciliationItem {
  kind: 'unknown_payment' | 'abandoned_attempt';
  paymentId: string;
  tenantId: string;
  attempt: number;
  connectionId: string;
  idempotencyKey: string;
  reference?: string;
  amount: number;
  paymentStatus: PaymentStatus;
}

/** The database side of reconciliation; the gateway calls reuse the payment activities. */
export function createReconciliationActivities(deps: { db: Db; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  return {
    /** Attempts left unresolved for longer than `olderThanMs` and not yet reconciled, oldest first. */
    async findReconciliationWork(input: { olderThanMs: number; limit: number; tenantId?: string }): Promise<ReconciliationItem[]> {
      const rows = await db
        .select({
          paymentId: paymentAttempts.paymentId,
          tenantId: paymentAttempts.tenantId,
          attempt: paymentAttempts.attemptNumber,
          connectionId: paymentAttempts.connectionId,
          idempotencyKey: paymentAttempts.idempotencyKey,
          reference: paymentAttempts.gatewayReference,
          attemptStatus: paymentAttempts.status,
          amount: payments.amount,
          paymentStatus: payments.status,
        })
        .from(paymentAttempts)
        .innerJoin(payments, eq(payments.id, paymentAttempts.paymentId))
        .where(
          and(
            isNull(paymentAttempts.reconciledAt),
            input.tenantId ? eq(paymentAttempts.tenantId, input.tenantId) : undefined,
            lt(paymentAttempts.updatedAt, new Date(now() - input.olderThanMs)),
            or(
              and(eq(paymentAttempts.status, 'unknown'), eq(payments.status, 'unknown')),
              and(eq(paymentAttempts.status, 'failed'), inArray(paymentAttempts.errorCode, [...ABANDONED_CODES])),
            ),
          ),
        )
        .orderBy(paymentAttempts.updatedAt)
        .limit(input.limit);
      return rows.map((r) => ({
        kind: r.attemptStatus === 'unknown' ? 'unknown_payment' : 'abandoned_attempt',
        paymentId: r.paymentId,
        tenantId: r.tenantId,
        attempt: r.attempt,
        connectionId: r.connectionId,
        idempotencyKey: r.idempotencyKey,
        ...(r.reference ? { reference: r.reference } : {}),
        amount: r.amount,
        paymentStatus: r.paymentStatus as PaymentStatus,
      }));
    },

    /**
     * Payment and refund rows still `pending` after `olderThanMs`: a payment leaves `pending` as soon as
     * its workflow runs, so these are rows whose workflow start failed (or refunds still open, whose
     * start is then refused as a duplicate).
     */
    async findOrphans(input: { olderThanMs: number; limit: number; tenantId?: string }): Promise<{ payments: PaymentWorkflowInput[]; refunds: RefundWorkflowInput[] }> {
      const before = new Date(now() - input.olderThanMs);
      const paymentRows = await db
        .select()
        .from(payments)
        .where(and(eq(payments.status, 'pending'), lt(payments.createdAt, before), input.tenantId ? eq(payments.tenantId, input.tenantId) : undefined))
        .limit(input.limit);
      const refundRows = await db
        .select()
        .from(refunds)
        .where(and(eq(refunds.status, 'pending'), lt(refunds.createdAt, before), input.tenantId ? eq(refunds.tenantId, input.tenantId) : undefined))
        .limit(input.limit);
      return {
        payments: paymentRows.map((p) => ({
          paymentId: p.id,
          tenantId: p.tenantId,
          amount: p.amount,
          currency: p.currency,
          country: p.country,
          paymentMethod: { type: p.paymentMethodType as PaymentMethodType, token: p.paymentMethodToken },
          captureMode: p.captureMode as PaymentWorkflowInput['captureMode'],
          ...(p.customerId ? { customerId: p.customerId } : {}),
          ...(p.description ? { description: p.description } : {}),
          metadata: p.metadata,
        })),
        refunds: refundRows.map((r) => ({ refundId: r.id, paymentId: r.paymentId, tenantId: r.tenantId, amount: r.amount })),
      };
    },

    /** Closes an attempt for reconciliation; a reversal also records how and why on the attempt. */
    async markReconciled(input: {
      paymentId: string;
      attempt: number;
      reversal?: { how: 'voided' | 'refunded'; reason: string; reference: string };
    }): Promise<{ reconciled: true; reversed: boolean }> {
      const reversal = input.reversal;
      await db
        .update(paymentAttempts)
        .set({
          reconciledAt: new Date(),
          ...(reversal
            ? {
                status: 'reversed',
                gatewayReference: reversal.reference,
                errorCode: `reversed_${reversal.how === 'voided' ? 'void' : 'refund'}`,
                errorMessage: reversal.reason,
                updatedAt: new Date(),
              }
            : {}),
        })
        .where(and(eq(paymentAttempts.paymentId, input.paymentId), eq(paymentAttempts.attemptNumber, input.attempt), isNull(paymentAttempts.reconciledAt)));
      return { reconciled: true, reversed: reversal !== undefined };
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
