import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { PaymentActivities } from '../activities/payment-activities.js';
import type { PaymentStatus } from '../domain/payment-status.js';
import type { CaptureWorkflowInput, RefundWorkflowInput } from '../shared/payment-messages.js';
import { bookkeeping, gatewayCall } from './activity-options.js';

const db = proxyActivities<PaymentActivities>(bookkeeping);
const gateway = proxyActivities<PaymentActivities>(gatewayCall);

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure || cause instanceof Error ? cause.message : String(err);
}

/** Refunds (part of) a captured payment at the gateway that took it; the refund id is the idempotency key. */
export async function refundWorkflow(input: RefundWorkflowInput): Promise<{ status: 'succeeded' | 'failed'; paymentStatus: PaymentStatus }> {
  const payment = await db.loadPaymentForCapture({ paymentId: input.paymentId });
  if (!payment?.connectionId || !payment.reference) {
    const paymentStatus = await db.recordRefundOutcome({ ...input, status: 'failed', message: 'payment has no captured gateway transaction' });
    return { status: 'failed', paymentStatus };
  }
  try {
    const outcome = await gateway.refundAtGateway({
      tenantId: input.tenantId,
      connectionId: payment.connectionId,
      reference: payment.reference,
      amount: input.amount,
      idempotencyKey: input.refundId,
      paymentId: input.paymentId,
    });
    const status = outcome.status === 'failed' ? 'failed' : 'succeeded';
    const paymentStatus = await db.recordRefundOutcome({ ...input, status, reference: outcome.reference });
    return { status, paymentStatus };
  } catch (err) {
    const paymentStatus = await db.recordRefundOutcome({ ...input, status: 'failed', message: messageOf(err) });
    return { status: 'failed', paymentStatus };
  }
}

/** Captures an authorized payment (manual capture mode). */
export async function captureWorkflow(input: CaptureWorkflowInput): Promise<{ status: PaymentStatus; error?: string }> {
  const payment = await db.loadPaymentForCapture({ paymentId: input.paymentId });
  if (!payment?.connectionId || !payment.reference || payment.status !== 'authorized') {
    return { status: (payment?.status ?? 'failed') as PaymentStatus, error: 'payment is not authorized' };
  }
  try {
    await gateway.captureAtGateway({
      tenantId: input.tenantId,
      connectionId: payment.connectionId,
      reference: payment.reference,
      amount: input.amount,
      idempotencyKey: `${input.paymentId}-capture`,
    });
  } catch (err) {
    return { status: 'authorized', error: messageOf(err) };
  }
  return { status: await db.recordCapture({ paymentId: input.paymentId, amount: input.amount }) };
}
