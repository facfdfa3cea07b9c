import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { newId } from '../../db/ids.js';
import { recordCircuitOutcome } from '../../stores/payments/connection-health-store.js';
import { advancePayment, PaymentNotFoundError } from '../../stores/payments/payment-store.js';
import { recordRefundOutcome, RefundNotFoundError } from '../../stores/payments/refund-store.js';
import { loadRoutingState, type RoutingState } from '../../stores/payments/routing-rule-store.js';
import { payments, paymentAttempts } from '../../db/schema.js';
import { DEFAULT_CIRCUIT_CONFIG, type CircuitConfig } from '../../domain/circuit-breaker.js';
import { FailureType, failureTypeFor } from '../../domain/failures.js';
import type { GatewayStatus, PaymentStatus } from '../../domain/payments/payment-status.js';
import { decideRoute, type RoutingDecision, type RoutingFacts } from '../../domain/payments/routing.js';
import {
  GatewayError,
  InvalidCredentialsError,
  type AttemptRef,
  type ChargeRequest,
  type GatewayOutcome,
  type PaymentGateway,
  type RefundOutcome,
  type RefundRequest,
} from '../../providers/types.js';
import { loadGateway, refusedDestination, type GatewayDeps } from '../load-gateway.js';
import { paymentCurrency } from './payment-currency.js';
import { unifiedCodeFor } from './unified-decline-code.js';

export interface PaymentActivityDeps extends GatewayDeps {
  circuit?: CircuitConfig;
  /** Injected clock for the circuit breaker (tests). */
  now?: () => number;
}

export interface GatewayCall {
  tenantId: string;
  connectionId: string;
}

/** The longest wait a provider's Retry-After can impose on one retry (a hostile or buggy value stays harmless). */
export const RETRY_AFTER_CAP_MS = 60_000;

/** Turns a classified gateway error into the typed failure workflows branch on. */
function toFailure(err: unknown): unknown {
  if (err instanceof InvalidCredentialsError) {
    return ApplicationFailure.create({ type: FailureType.InvalidCredentials, message: err.message, nonRetryable: true });
  }
  if (!(err instanceof GatewayError)) return refusedDestination(err);
  return ApplicationFailure.create({
    type: failureTypeFor[err.classification],
    message: err.message,
    // Retryable errors are retried by the activity's policy; the others must reach the workflow at once.
    nonRetryable: err.classification !== 'retryable',
    details: [{ code: err.code, httpStatus: err.httpStatus ?? null }],
    ...retryDelayOf(err),
  });
}

/** Overrides the retry policy's backoff for the next retry, as the provider asked (capped). */
function retryDelayOf(err: GatewayError): { nextRetryDelay?: number } {
  return err.retryAfterMs !== undefined ? { nextRetryDelay: Math.min(err.retryAfterMs, RETRY_AFTER_CAP_MS) } : {};
}

/**
 * For calls that only ask (status lookups, resends answered from the gateway's idempotency store):
 * nothing they do can move money twice, so a timeout, a reset or a 5xx/429 is worth asking again,
 * patiently, within the resolution window. Only a refusal (4xx), refused credentials or a missing
 * connection stop early.
 */
function toLookupFailure(err: unknown): unknown {
  if (err instanceof GatewayError && err.classification !== 'hard_decline') {
    return ApplicationFailure.create({
      type: FailureType.Retryable,
      message: err.message,
      nonRetryable: false,
      details: [{ code: err.code, httpStatus: err.httpStatus ?? null }],
      ...retryDelayOf(err),
    });
  }
  return toFailure(err);
}

function unresolvable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.Unresolvable, message, nonRetryable: true });
}

async function askGateway<T>(deps: GatewayDeps, call: GatewayCall, fn: (g: PaymentGateway) => Promise<T>): Promise<T> {
  const { gateway } = await loadGateway(deps, call.tenantId, call.connectionId);
  try {
    return await fn(gateway);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw toLookupFailure(err);
  }
}

async function callGateway<T>(deps: GatewayDeps, call: GatewayCall, fn: (g: Awaited<ReturnType<typeof loadGateway>>['gateway']) => Promise<T>): Promise<T> {
  const { gateway } = await loadGateway(deps, call.tenantId, call.connectionId);
  try {
    return await fn(gateway);
  } catch (err) {
    throw toFailure(err);
  }
}

/** The attempt row written before a charge is sent. */
export interface AttemptStart {
  paymentId: string;
  tenantId: string;
  attempt: number;
  connectionId: string;
  provider: string;
  reason: string;
  idempotencyKey: string;
}

/** One gateway call's outcome for the circuit breaker; `callKey` (payment, attempt, send) makes it count once. */
export interface CircuitCall {
  tenantId: string;
  ok: boolean;
  callKey?: string;
}

export function createPaymentActivities(deps: PaymentActivityDeps) {
  const { db } = deps;
  const circuitConfig = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;
  const now = deps.now ?? Date.now;

  /**
   * Forward-only update of the payment read model, with its event when the move is one merchants are
   * told about (src/stores/payments/payment-store.ts); a refused transition changes no status.
   */
  async function advance(input: Parameters<typeof advancePayment>[1]): Promise<PaymentStatus> {
    try {
      return await advancePayment(db, input);
    } catch (err) {
      // A payment that is not there will not appear on a retry.
      if (err instanceof PaymentNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'PaymentNotFound');
      throw err;
    }
  }

  function loadRoutingCandidates(input: { tenantId: string }): Promise<RoutingState> {
    return loadRoutingState(db, input.tenantId, {
      now: now(),
      circuit: circuitConfig,
      capabilities: (p) => deps.providers.capabilities(input.tenantId, p),
    });
  }

  /** Creates the attempt row (idempotent: a retried activity finds its own row). */
  async function startAttempt(input: AttemptStart): Promise<void> {
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
  }

  return {
    /**
     * A payment's first step (a local activity): loads the rules and the live state (health, circuit)
     * of every connection they name, decides the route and saves the decision on the payment. A re-run
     * after a worker crash decides again from the state as it is then and overwrites the unrecorded decision.
     */
    async routePayment(input: { paymentId: string; tenantId: string; facts: RoutingFacts }): Promise<{ decision: RoutingDecision; status: PaymentStatus }> {
      const { rules, connections } = await loadRoutingCandidates(input);
      const decision = decideRoute(input.facts, rules, connections);
      return { decision, status: await advance({ paymentId: input.paymentId, to: 'processing', changes: { routing: decision } }) };
    },

    /**
     * Sends the charge. Throws GatewayRetryable (retried), HardDecline or GatewayAmbiguous. It first
     * creates the attempt row (`started`), so the row with its idempotency key exists before anything
     * is sent.
     */
    async chargeGateway(input: GatewayCall & { charge: ChargeRequest; started: AttemptStart }): Promise<GatewayOutcome> {
      await startAttempt(input.started);
      return callGateway(deps, input, (g) => g.authorize(input.charge));
    },

    /** Asks the gateway what became of an attempt; null when it never saw it. Timeouts and 5xx/429 are retried. */
    async queryGatewayStatus(input: GatewayCall & { ref: AttemptRef }): Promise<GatewayOutcome | null> {
      return askGateway(deps, input, (g) => g.lookup(input.ref));
    },

    /**
     * A callback claims a final status; where the provider is set to confirm, the gateway's own answer
     * (a status lookup by our reference) is what counts. Null: the gateway has no record.
     */
    async confirmCallback(input: GatewayCall & { ref: AttemptRef; claimed: GatewayStatus }): Promise<GatewayOutcome | null> {
      return askGateway(deps, input, async (g) => {
        if (!g.confirmsCallbacks && input.ref.reference) return { status: input.claimed, reference: input.ref.reference };
        return g.lookup(input.ref);
      });
    },

    /**
     * Learns what became of an ambiguous refund or capture by resending it with the same idempotency
     * key: the gateway answers with the first result and never acts twice. Refused (Unresolvable) where
     * the provider does not send an idempotency key for that call.
     */
    async resendWithSameKey(
      input: GatewayCall & ({ action: 'refund'; refund: Omit<RefundRequest, 'currency'> } | { action: 'capture'; reference: string; amount: number; idempotencyKey: string }),
    ): Promise<RefundOutcome | GatewayOutcome> {
      const currency = await paymentCurrency(db, input.action === 'refund' ? { ...input, ...input.refund } : input);
      return askGateway(deps, input, async (g) => {
        if (!g.replaysWithKey(input.action)) throw unresolvable(`the provider does not take an idempotency key on ${input.action}; resending could act twice`);
        return input.action === 'refund' ? g.refund({ ...input.refund, currency }) : g.capture(input.reference, input.amount, input.idempotencyKey, currency);
      });
    },

    /** A pending refund's current state at the gateway (null: unknown there). */
    async queryRefundStatus(input: GatewayCall & { refundReference: string }): Promise<RefundOutcome | null> {
      return askGateway(deps, input, async (g) => {
        if (!g.lookupRefund) throw unresolvable('the provider offers no refund lookup');
        return g.lookupRefund(input.refundReference);
      });
    },

    async cancelAtGateway(input: GatewayCall & { reference: string; idempotencyKey: string }): Promise<GatewayOutcome> {
      return callGateway(deps, input, (g) => g.cancel(input.reference, input.idempotencyKey));
    },

    async captureAtGateway(input: GatewayCall & { reference: string; amount: number; idempotencyKey: string; currency?: string }): Promise<GatewayOutcome> {
      const currency = input.currency ?? (await paymentCurrency(db, input));
      return callGateway(deps, input, (g) => g.capture(input.reference, input.amount, input.idempotencyKey, currency));
    },

    async refundAtGateway(input: GatewayCall & { reference: string; amount: number; idempotencyKey: string; paymentId: string; currency?: string }): Promise<RefundOutcome> {
      const currency = input.currency ?? (await paymentCurrency(db, input));
      return callGateway(deps, input, (g) =>
        g.refund({ reference: input.reference, amount: input.amount, currency, idempotencyKey: input.idempotencyKey, paymentId: input.paymentId }),
      );
    },

    /** Writes an attempt's outcome and moves the payment forward (never backwards), in one transaction with its event. */
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
      /** The gateway call's outcome for the circuit breaker, recorded in the same call (idempotent by its call key). */
      circuit?: CircuitCall;
    }): Promise<PaymentStatus> {
      if (input.circuit) await recordCircuitOutcome(db, { ...input.circuit, connectionId: input.connectionId }, now(), circuitConfig);
      const unifiedCode = await unifiedCodeFor(deps, input);
      const failed = input.paymentStatus === 'failed';
      return advance({
        paymentId: input.paymentId,
        to: input.paymentStatus,
        attempt: {
          number: input.attempt,
          changes: {
            status: input.attemptStatus,
            ...(input.reference ? { gatewayReference: input.reference } : {}),
            errorClass: input.errorClass ?? null,
            errorCode: input.errorCode ?? null,
            unifiedCode,
            errorMessage: input.errorMessage ?? null,
          },
        },
        changes: {
          connectionId: input.connectionId,
          ...(input.reference ? { gatewayReference: input.reference } : {}),
          ...(input.amountCaptured !== undefined ? { amountCaptured: input.amountCaptured } : {}),
          ...(failed ? { failureCode: input.errorCode ?? null, failureMessage: input.errorMessage ?? null } : {}),
        },
      });
    },

    /** Marks a payment failed when there was nothing to try (no route). */
    async failPayment(input: { paymentId: string; code: string; message: string }): Promise<PaymentStatus> {
      return advance({ paymentId: input.paymentId, to: 'failed', changes: { failureCode: input.code, failureMessage: input.message } });
    },

    async loadPaymentForCapture(input: { paymentId: string }) {
      const [p] = await db
        .select({ connectionId: payments.connectionId, reference: payments.gatewayReference, status: payments.status })
        .from(payments)
        .where(eq(payments.id, input.paymentId));
      return p ?? null;
    },

    async recordCapture(input: { paymentId: string; amount: number }): Promise<PaymentStatus> {
      return advance({ paymentId: input.paymentId, to: 'succeeded', changes: { amountCaptured: input.amount } });
    },

    /** Applies a refund's outcome and the payment's refunded amount (src/stores/payments/refund-store.ts). */
    async recordRefundOutcome(input: { refundId: string; paymentId: string; status: 'succeeded' | 'failed' | 'pending'; reference?: string; message?: string }): Promise<PaymentStatus> {
      try {
        return await recordRefundOutcome(db, input);
      } catch (err) {
        // Rows that are not there will not appear on a retry.
        if (err instanceof RefundNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'RefundNotFound');
        if (err instanceof PaymentNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'PaymentNotFound');
        throw err;
      }
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
