import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import type { PaymentActivities } from '../../activities/payments/payment-activities.js';
import type { ReconciliationActivities, ReconciliationItem } from '../../activities/payments/reconciliation-activities.js';
import { isFinalAtGateway, paymentStatusFor } from '../../domain/payments/payment-status.js';
import type { GatewayOutcome } from '../../providers/types.js';
import { DEFAULT_PAYMENT_TIMING, type ReconciliationInput } from '../../shared/payment-messages.js';
import { PaymentStatusAttr, TenantIdAttr } from '../../shared/search-attributes.js';
import { tenantPriority } from '../../shared/fairness.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { bookkeeping, gatewayCall, statusQuery } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

const db = proxyActivities<Pick<PaymentActivities, 'recordAttemptOutcome'> & Pick<ReconciliationActivities, 'findReconciliationWork' | 'findOrphans' | 'markReconciled'>>(bookkeeping);
const gateway = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'cancelAtGateway' | 'refundAtGateway'>>(gatewayCall));
// One run asks many gateways: a gateway that is still down is skipped until the next run.
const check = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'queryGatewayStatus'>>({ ...statusQuery, scheduleToCloseTimeout: '1 minute' }));

export interface ReconciliationResult {
  /** Workflows started for rows whose own start had failed. */
  orphansStarted: string[];
  checked: number;
  resolved: number;
  reversed: { paymentId: string; attempt: number; how: 'voided' | 'refunded'; reason: string }[];
  skipped: number;
}

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure || cause instanceof Error ? cause.message : String(err);
}

/**
 * Started by a Schedule: asks gateways again about payments still `unknown` after the resolution
 * window and about attempts the payment workflow abandoned (canceled after a timeout, or not received
 * twice). An abandoned attempt that went through after all is reversed (void if authorized, refund if
 * captured), because the payment was paid elsewhere or told the customer it failed: never charged twice.
 */
export async function reconciliationWorkflow(input: ReconciliationInput = {}): Promise<ReconciliationResult> {
  const olderThanMs = input.olderThanMs ?? DEFAULT_PAYMENT_TIMING.ambiguousResolutionMs;
  const scope = { limit: input.limit ?? 200, ...(input.tenantId ? { tenantId: input.tenantId } : {}) };
  const orphansStarted = await startOrphans(input, scope);
  const items = await db.findReconciliationWork({ olderThanMs, ...scope });
  const result: ReconciliationResult = { orphansStarted, checked: items.length, resolved: 0, reversed: [], skipped: 0 };
  for (const item of items) {
    const call = { tenantId: item.tenantId, connectionId: item.connectionId };
    let outcome: GatewayOutcome | null;
    try {
      outcome = await check.queryGatewayStatus({
        ...call,
        ref: { paymentId: item.paymentId, attempt: item.attempt, idempotencyKey: item.idempotencyKey, ...(item.reference ? { reference: item.reference } : {}) },
      });
    } catch (err) {
      log.warn('gateway could not be asked; retried next run', { paymentId: item.paymentId, attempt: item.attempt, error: messageOf(err) });
      result.skipped += 1;
      continue;
    }
    if (outcome && !isFinalAtGateway(outcome.status)) {
      result.skipped += 1;
      continue;
    }
    if (item.kind === 'unknown_payment') {
      await resolveUnknown(item, outcome);
      result.resolved += 1;
    } else if (outcome && (outcome.status === 'succeeded' || outcome.status === 'authorized')) {
      const reversal = await reverse(item, outcome);
      if (reversal) result.reversed.push({ paymentId: item.paymentId, attempt: item.attempt, ...reversal });
      else result.skipped += 1;
    } else {
      await db.markReconciled({ paymentId: item.paymentId, attempt: item.attempt });
      result.resolved += 1;
    }
  }
  return result;
}

/** A payment left `unknown` after the window: the gateway's answer now decides it. */
async function resolveUnknown(item: ReconciliationItem, outcome: GatewayOutcome | null): Promise<void> {
  const base = { paymentId: item.paymentId, attempt: item.attempt, connectionId: item.connectionId, errorClass: 'ambiguous' };
  if (outcome) {
    await db.recordAttemptOutcome({
      ...base,
      attemptStatus: outcome.status,
      paymentStatus: paymentStatusFor(outcome.status),
      reference: outcome.reference,
      errorCode: 'resolved_by_reconciliation',
      errorMessage: `resolved by reconciliation: the gateway reports ${outcome.status}`,
      ...(outcome.status === 'succeeded' ? { amountCaptured: outcome.amountCaptured ?? item.amount } : {}),
    });
  } else {
    await db.recordAttemptOutcome({
      ...base,
      attemptStatus: 'failed',
      paymentStatus: 'failed',
      errorCode: 'not_received',
      errorMessage: 'the gateway has no record of the attempt after the resolution window',
    });
  }
  await db.markReconciled({ paymentId: item.paymentId, attempt: item.attempt });
}

/** Voids or refunds an abandoned attempt that went through; null when the gateway refused (next run retries). */
async function reverse(item: ReconciliationItem, outcome: GatewayOutcome): Promise<{ how: 'voided' | 'refunded'; reason: string } | null> {
  const call = { tenantId: item.tenantId, connectionId: item.connectionId };
  const idempotencyKey = `${item.idempotencyKey}-reversal`;
  const why =
    item.paymentStatus === 'failed' || item.paymentStatus === 'canceled'
      ? `the payment ${item.paymentStatus}, but this abandoned attempt went through at the gateway later`
      : `the payment was paid by another attempt, but this abandoned attempt went through at the gateway later`;
  try {
    if (outcome.status === 'authorized') {
      await gateway.cancelAtGateway({ ...call, reference: outcome.reference, idempotencyKey });
      const reason = `${why}; authorization voided`;
      await db.markReconciled({ paymentId: item.paymentId, attempt: item.attempt, reversal: { how: 'voided', reason, reference: outcome.reference } });
      return { how: 'voided', reason };
    }
    const amount = outcome.amountCaptured ?? item.amount;
    await gateway.refundAtGateway({ ...call, reference: outcome.reference, amount, idempotencyKey, paymentId: item.paymentId });
    const reason = `${why}; ${amount} refunded`;
    await db.markReconciled({ paymentId: item.paymentId, attempt: item.attempt, reversal: { how: 'refunded', reason, reference: outcome.reference } });
    return { how: 'refunded', reason };
  } catch (err) {
    log.error('could not reverse an abandoned attempt that went through; retried next run', { paymentId: item.paymentId, attempt: item.attempt, error: messageOf(err) });
    return null;
  }
}

/**
 * Every payment and refund row gets its workflow: rows committed while Temporal was down (their
 * start failed and the client never retried) are started here, with the same deterministic ids, so a
 * run that exists already is never started twice.
 */
async function startOrphans(input: ReconciliationInput, scope: { limit: number; tenantId?: string }): Promise<string[]> {
  const orphans = await db.findOrphans({ olderThanMs: input.orphanAfterMs ?? 2 * 60_000, ...scope });
  const timing = input.paymentTiming ? { timing: input.paymentTiming } : {};
  const started: string[] = [];
  const start = async (type: 'paymentWorkflow' | 'refundWorkflow', id: string, args: [{ tenantId: string }], attrs: SearchAttributePair[]) => {
    try {
      await startChild(type, {
        workflowId: id,
        args,
        // The run outlives this sweep, and its id can never have a second run.
        parentClosePolicy: 'ABANDON',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: attrs,
        // The sweep runs under the platform's key; each payment runs under its tenant's.
        priority: tenantPriority(args[0].tenantId),
      });
      started.push(id);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };
  for (const p of orphans.payments) {
    await start('paymentWorkflow', workflowId.payment(p.paymentId), [{ ...p, ...timing }], [
      { key: TenantIdAttr, value: p.tenantId },
      { key: PaymentStatusAttr, value: 'pending' },
    ]);
  }
  for (const r of orphans.refunds) {
    await start('refundWorkflow', workflowId.refund(r.refundId), [{ ...r, ...timing }], [{ key: TenantIdAttr, value: r.tenantId }]);
  }
  return started;
}
