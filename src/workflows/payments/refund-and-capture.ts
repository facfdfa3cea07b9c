import { ActivityFailure, ApplicationFailure, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { PaymentActivities } from '../../activities/payments/payment-activities.js';
import { FailureType } from '../../domain/failures.js';
import type { PaymentStatus } from '../../domain/payments/payment-status.js';
import type { GatewayOutcome, RefundOutcome } from '../../providers/types.js';
import { DEFAULT_PAYMENT_TIMING, type CaptureWorkflowInput, type PaymentTiming, type RefundWorkflowInput } from '../../shared/payment-messages.js';
import { bookkeeping, gatewayCall, statusQuery } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

const db = proxyActivities<Pick<PaymentActivities, 'loadPaymentForCapture' | 'recordRefundOutcome' | 'recordCapture'>>(bookkeeping);
const gateway = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'refundAtGateway' | 'captureAtGateway'>>(gatewayCall));

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure || cause instanceof Error ? cause.message : String(err);
}

/**
 * A failure after which the gateway certainly did not act: it refused (4xx), was unavailable (503,
 * retries exhausted), or could not be reached with valid credentials. Anything else (a timeout, a
 * reset, a 500) may have moved money and must be resolved by asking the gateway.
 */
function isKnownFailure(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type !== FailureType.Ambiguous;
}

/** Patient calls that only ask the gateway (lookups, resends with the same key), for one resolution window. */
function asking(timing: PaymentTiming) {
  return waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'resendWithSameKey'>>({ ...statusQuery, scheduleToCloseTimeout: timing.ambiguousResolutionMs }));
}

/** Refunds (part of) a captured payment at the gateway that took it; the refund id is the idempotency key. */
export async function refundWorkflow(input: RefundWorkflowInput): Promise<{ status: 'succeeded' | 'failed' | 'pending'; paymentStatus: PaymentStatus }> {
  const timing = { ...DEFAULT_PAYMENT_TIMING, ...input.timing };
  const payment = await db.loadPaymentForCapture({ paymentId: input.paymentId });
  if (!payment?.connectionId || !payment.reference) {
    const paymentStatus = await db.recordRefundOutcome({ ...input, status: 'failed', message: 'payment has no captured gateway transaction' });
    return { status: 'failed', paymentStatus };
  }
  const call = { tenantId: input.tenantId, connectionId: payment.connectionId };
  const refund = { reference: payment.reference, amount: input.amount, idempotencyKey: input.refundId, paymentId: input.paymentId };
  let outcome: RefundOutcome;
  try {
    outcome = await gateway.refundAtGateway({ ...call, ...refund });
  } catch (err) {
    if (isKnownFailure(err)) {
      // Only a known failure releases the reserved amount.
      const paymentStatus = await db.recordRefundOutcome({ ...input, status: 'failed', message: messageOf(err) });
      return { status: 'failed', paymentStatus };
    }
    log.warn('refund outcome unknown; asking the gateway with the same idempotency key', { refundId: input.refundId, error: messageOf(err) });
    try {
      outcome = (await asking(timing).resendWithSameKey({ ...call, action: 'refund', refund })) as RefundOutcome;
    } catch (resendErr) {
      if (isRefusal(resendErr)) {
        const paymentStatus = await db.recordRefundOutcome({ ...input, status: 'failed', message: messageOf(resendErr) });
        return { status: 'failed', paymentStatus };
      }
      // Still unknown: the amount stays reserved and the refund pending, for reconciliation or review.
      log.error('refund left pending: the gateway could not tell what became of it', { refundId: input.refundId, error: messageOf(resendErr) });
      return { status: 'pending', paymentStatus: await db.recordRefundOutcome({ ...input, status: 'pending' }) };
    }
  }
  if (outcome.status === 'pending') outcome = await waitForRefund(call, outcome, timing);
  const { status } = outcome;
  const paymentStatus = await db.recordRefundOutcome({ ...input, status, reference: outcome.reference });
  return { status, paymentStatus };
}

/** A refusal by the gateway itself (4xx) on a resend: the refund was certainly not made. */
function isRefusal(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === FailureType.HardDecline;
}

/**
 * A gateway `pending` refund: its status is polled every callback wait for the resolution window;
 * if it is still pending then, it stays pending (amount reserved) for review.
 */
async function waitForRefund(call: { tenantId: string; connectionId: string }, first: RefundOutcome, timing: PaymentTiming): Promise<RefundOutcome> {
  const check = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'queryRefundStatus'>>({ ...statusQuery, scheduleToCloseTimeout: timing.callbackTimeoutMs }));
  let outcome = first;
  for (let waited = 0; outcome.status === 'pending' && waited < timing.ambiguousResolutionMs; waited += timing.callbackTimeoutMs) {
    await sleep(timing.callbackTimeoutMs);
    try {
      outcome = (await check.queryRefundStatus({ ...call, refundReference: outcome.reference })) ?? outcome;
    } catch (err) {
      log.warn('could not poll a pending refund', { reference: outcome.reference, error: messageOf(err) });
      const cause = err instanceof ActivityFailure ? err.cause : err;
      if (cause instanceof ApplicationFailure && cause.type === FailureType.Unresolvable) break;
    }
  }
  return outcome;
}

/** Captures an authorized payment (manual capture mode). */
export async function captureWorkflow(input: CaptureWorkflowInput): Promise<{ status: PaymentStatus; error?: string }> {
  const timing = { ...DEFAULT_PAYMENT_TIMING, ...input.timing };
  const payment = await db.loadPaymentForCapture({ paymentId: input.paymentId });
  if (!payment?.connectionId || !payment.reference || payment.status !== 'authorized') {
    return { status: (payment?.status ?? 'failed') as PaymentStatus, error: 'payment is not authorized' };
  }
  const call = { tenantId: input.tenantId, connectionId: payment.connectionId };
  const capture = { reference: payment.reference, amount: input.amount, idempotencyKey: `${input.paymentId}-capture` };
  try {
    await gateway.captureAtGateway({ ...call, ...capture });
  } catch (err) {
    if (isKnownFailure(err)) return { status: 'authorized', error: messageOf(err) };
    log.warn('capture outcome unknown; asking the gateway with the same idempotency key', { paymentId: input.paymentId, error: messageOf(err) });
    try {
      const outcome = (await asking(timing).resendWithSameKey({ ...call, action: 'capture', ...capture })) as GatewayOutcome;
      if (outcome.status !== 'succeeded') return { status: 'authorized', error: `capture is ${outcome.status} at the gateway` };
    } catch (resendErr) {
      return { status: 'authorized', error: `capture outcome unknown: ${messageOf(resendErr)}` };
    }
  }
  return { status: await db.recordCapture({ paymentId: input.paymentId, amount: input.amount }) };
}
