import { ApplicationFailure } from '@temporalio/common';
import { and, eq, sql } from 'drizzle-orm';
import { newId } from '../db/ids.js';
import { loadRoutingState, type RoutingState } from '../db/queries/routing-state.js';
import { connectionHealth, payments, paymentAttempts, refunds } from '../db/schema.js';
import { DEFAULT_CIRCUIT_CONFIG, recordOutcome, storedCircuitAt, type CircuitConfig } from '../domain/circuit-breaker.js';
import { FailureType, failureTypeFor } from '../domain/failures.js';
import { canTransition, type GatewayStatus, type PaymentStatus } from '../domain/payment-status.js';
import type { RoutingDecision } from '../domain/routing.js';
import { GatewayError, InvalidCredentialsError, type AttemptRef, type ChargeRequest, type GatewayOutcome, type RefundOutcome } from '../providers/types.js';
import { loadGateway, type GatewayDeps } from './load-gateway.js';

export interface PaymentActivityDeps extends GatewayDeps {
  circuit?: CircuitConfig;
  /** Injected clock for the circuit breaker (tests). */
  now?: () => number;
}

export interface GatewayCall {
  tenantId: string;
  connectionId: string;
}

/** Turns a classified gateway error into the typed failure workflows branch on. */
function toFailure(err: unknown): unknown {
  if (err instanceof InvalidCredentialsError) {
    return ApplicationFailure.create({ type: FailureType.InvalidCredentials, message: err.message, nonRetryable: true });
  }
  if (!(err instanceof GatewayError)) return err;
  return ApplicationFailure.create({
    type: failureTypeFor[err.classification],
    message: err.message,
    // Retryable errors are retried by the activity's policy; the others must reach the workflow at once.
    nonRetryable: err.classification !== 'retryable',
    details: [{ code: err.code, httpStatus: err.httpStatus ?? null }],
  });
}

async function callGateway<T>(deps: GatewayDeps, call: GatewayCall, fn: (g: Awaited<ReturnType<typeof loadGateway>>['gateway']) => Promise<T>): Promise<T> {
  const { gateway } = await loadGateway(deps, call.tenantId, call.connectionId);
  try {
    return await fn(gateway);
  } catch (err) {
    throw toFailure(err);
  }
}

export function createPaymentActivities(deps: PaymentActivityDeps) {
  const { db } = deps;
  const circuitConfig = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;
  const now = deps.now ?? Date.now;

  /** Forward-only update of the payment read model; a refused transition changes nothing. */
  async function advancePayment(
    paymentId: string,
    to: PaymentStatus,
    fields: Partial<typeof payments.$inferInsert> = {},
  ): Promise<PaymentStatus> {
    return db.transaction(async (tx) => {
      const [row] = await tx.select({ status: payments.status }).from(payments).where(eq(payments.id, paymentId)).for('update');
      if (!row) throw ApplicationFailure.nonRetryable(`payment ${paymentId} not found`, 'PaymentNotFound');
      const from = row.status as PaymentStatus;
      const move = from !== to && canTransition(from, to);
      await tx
        .update(payments)
        .set({ ...fields, ...(move ? { status: to } : {}), updatedAt: new Date() })
        .where(eq(payments.id, paymentId));
      return move ? to : from;
    });
  }

  return {
    /** Rules and the live state (health, circuit) of every connection they name. */
    async loadRoutingCandidates(input: { tenantId: string }): Promise<RoutingState> {
      return loadRoutingState(db, input.tenantId, {
        now: now(),
        circuit: circuitConfig,
        capabilities: (p) => deps.providers.capabilities(p),
      });
    },

    async saveRoutingDecision(input: { paymentId: string; decision: RoutingDecision }): Promise<void> {
      await advancePayment(input.paymentId, 'processing', { routing: input.decision });
    },

    /** Creates the attempt row (idempotent: a retried activity finds its own row). */
    async recordAttemptStarted(input: {
      paymentId: string;
      tenantId: string;
      attempt: number;
      connectionId: string;
      provider: string;
      reason: string;
      idempotencyKey: string;
    }): Promise<void> {
      await db
        .insert(paymentAttempts)
        .values({
          id: newId('att'),
          paymentId: input.paymentId,
          tenantId: input.tenantId,
          attemptNumber: input.attempt,
          connectionId: input.connectionId,
          provider: input.provider,
          reason: input.reason,
          idempotencyKey: input.idempotencyKey,
        })
        .onConflictDoNothing();
    },

    /** Sends the charge. Throws GatewayRetryable (retried), HardDecline or GatewayAmbiguous. */
    async chargeGateway(input: GatewayCall & { charge: ChargeRequest }): Promise<GatewayOutcome> {
      return callGateway(deps, input, (g) => g.authorize(input.charge));
    },

    /** Asks the gateway what became of an attempt; null when it never saw it. */
    async queryGatewayStatus(input: GatewayCall & { ref: AttemptRef }): Promise<GatewayOutcome | null> {
      return callGateway(deps, input, (g) => g.lookup(input.ref));
    },

    async cancelAtGateway(input: GatewayCall & { reference: string; idempotencyKey: string }): Promise<GatewayOutcome> {
      return callGateway(deps, input, (g) => g.cancel(input.reference, input.idempotencyKey));
    },

    async captureAtGateway(input: GatewayCall & { reference: string; amount: number; idempotencyKey: string }): Promise<GatewayOutcome> {
      return callGateway(deps, input, (g) => g.capture(input.reference, input.amount, input.idempotencyKey));
    },

    async refundAtGateway(input: GatewayCall & { reference: string; amount: number; idempotencyKey: string; paymentId: string }): Promise<RefundOutcome> {
      return callGateway(deps, input, (g) =>
        g.refund({ reference: input.reference, amount: input.amount, idempotencyKey: input.idempotencyKey, paymentId: input.paymentId }),
      );
    },

    /** Writes an attempt's outcome and moves the payment forward (never backwards). */
    async recordAttemptOutcome(input: {
      paymentId: string;
      attempt: number;
      attemptStatus: GatewayStatus | 'unknown' | 'failed';
      paymentStatus: PaymentStatus;
      connectionId: string;
      reference?: string;
      errorClass?: string;
      errorCode?: string;
      errorMessage?: string;
      amountCaptured?: number;
    }): Promise<PaymentStatus> {
      await db
        .update(paymentAttempts)
        .set({
          status: input.attemptStatus,
          ...(input.reference ? { gatewayReference: input.reference } : {}),
          errorClass: input.errorClass ?? null,
          errorCode: input.errorCode ?? null,
          errorMessage: input.errorMessage ?? null,
          updatedAt: new Date(),
        })
        .where(and(eq(paymentAttempts.paymentId, input.paymentId), eq(paymentAttempts.attemptNumber, input.attempt)));
      const failed = input.paymentStatus === 'failed';
      return advancePayment(input.paymentId, input.paymentStatus, {
        connectionId: input.connectionId,
        ...(input.reference ? { gatewayReference: input.reference } : {}),
        ...(input.amountCaptured !== undefined ? { amountCaptured: input.amountCaptured } : {}),
        ...(failed ? { failureCode: input.errorCode ?? null, failureMessage: input.errorMessage ?? null } : {}),
      });
    },

    /** Marks a payment failed when there was nothing to try (no route). */
    async failPayment(input: { paymentId: string; code: string; message: string }): Promise<PaymentStatus> {
      return advancePayment(input.paymentId, 'failed', { failureCode: input.code, failureMessage: input.message });
    },

    /** Feeds the circuit breaker of a connection with one call's outcome (gateway working or not). */
    async recordGatewayOutcome(input: { tenantId: string; connectionId: string; ok: boolean }): Promise<{ circuit: string }> {
      return db.transaction(async (tx) => {
        await tx
          .insert(connectionHealth)
          .values({ connectionId: input.connectionId, tenantId: input.tenantId })
          .onConflictDoNothing();
        const [row] = await tx
          .select({ circuit: connectionHealth.circuit })
          .from(connectionHealth)
          .where(eq(connectionHealth.connectionId, input.connectionId))
          .for('update');
        const at = now();
        const next = recordOutcome(storedCircuitAt(row?.circuit, at, circuitConfig), input.ok, at, circuitConfig);
        await tx
          .update(connectionHealth)
          .set({ circuit: next as unknown as Record<string, unknown>, updatedAt: new Date() })
          .where(eq(connectionHealth.connectionId, input.connectionId));
        return { circuit: next.state };
      });
    },

    async loadPaymentForCapture(input: { paymentId: string }) {
      const [p] = await db
        .select({ connectionId: payments.connectionId, reference: payments.gatewayReference, status: payments.status })
        .from(payments)
        .where(eq(payments.id, input.paymentId));
      return p ?? null;
    },

    async recordCapture(input: { paymentId: string; amount: number }): Promise<PaymentStatus> {
      return advancePayment(input.paymentId, 'succeeded', { amountCaptured: input.amount });
    },

    /** Applies a refund's final status and the payment's refunded amount in one transaction. */
    async recordRefundOutcome(input: { refundId: string; paymentId: string; status: 'succeeded' | 'failed'; reference?: string; message?: string }): Promise<PaymentStatus> {
      return db.transaction(async (tx) => {
        const [refund] = await tx.select().from(refunds).where(eq(refunds.id, input.refundId)).for('update');
        if (!refund) throw ApplicationFailure.nonRetryable(`refund ${input.refundId} not found`, 'RefundNotFound');
        const [p] = await tx.select().from(payments).where(eq(payments.id, input.paymentId)).for('update');
        if (!p) throw ApplicationFailure.nonRetryable(`payment ${input.paymentId} not found`, 'PaymentNotFound');
        if (refund.status !== 'pending') return p.status as PaymentStatus;
        await tx
          .update(refunds)
          .set({ status: input.status, gatewayReference: input.reference ?? null, failureMessage: input.message ?? null, updatedAt: new Date() })
          .where(eq(refunds.id, input.refundId));
        if (input.status !== 'succeeded') return p.status as PaymentStatus;
        const refunded = p.amountRefunded + refund.amount;
        const to: PaymentStatus = refunded >= p.amountCaptured ? 'refunded' : 'partially_refunded';
        const move = canTransition(p.status as PaymentStatus, to);
        await tx
          .update(payments)
          .set({ amountRefunded: sql`${payments.amountRefunded} + ${refund.amount}`, ...(move ? { status: to } : {}), updatedAt: new Date() })
          .where(eq(payments.id, input.paymentId));
        return move ? to : (p.status as PaymentStatus);
      });
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
