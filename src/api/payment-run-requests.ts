import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { tenantPriority } from '../shared/fairness.js';
import {
  AftercareFailure,
  capturePaymentUpdate,
  PAYMENT_UPDATE_IDS,
  paymentOutcomeUpdate,
  refundPaymentUpdate,
  type CaptureOutcome,
  type PaymentWorkflowInput,
} from '../shared/payment-messages.js';
import { PaymentStatusAttr, TenantIdAttr } from '../shared/search-attributes.js';
import { workflowId } from '../shared/workflow-ids.js';
import type { Workflows } from '../shared/workflow-types.js';
import { startWorkflow } from '../temporal/start-workflow.js';
import { resultWithin } from './await-workflow.js';
import type { AppDeps } from './deps.js';

/*
 * What the payments API asks of the payment workflows: start a payment's run (and wait for its
 * outcome), hand a refund or a capture to the payment's own run while it is open, else to a
 * standalone RefundWorkflow or CaptureWorkflow.
 */

type RunDeps = Pick<AppDeps, 'temporal' | 'taskQueues' | 'paymentTiming'>;

/**
 * A payment, refund or capture id runs its workflow once, ever: a retried or replayed request finds
 * the running run (USE_EXISTING) or is refused after it closed (REJECT_DUPLICATE), so money never
 * moves from a second run.
 */
const ONE_RUN_PER_ID = { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'USE_EXISTING' } as const;

/** How long a refund request waits for the payment's run to take the refund (its child has started). */
const REFUND_HANDOVER_MS = 10_000;

/** How long a capture request waits for the capture's outcome. */
const CAPTURE_WAIT_MS = 30_000;

/** Starts a workflow unless its id already has (or had) a run. */
async function startOnce(start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * How the payment's own run answered a refund or capture update: done there, refused (a 409 naming
 * why), or not taken because the run is closed or takes no aftercare (older run, window over): then
 * the standalone workflow does it.
 */
type AftercareAnswer<T> = { kind: 'done'; value: T } | { kind: 'refused'; message: string } | { kind: 'closed' };

async function throughPaymentRun<T>(send: () => Promise<T>): Promise<AftercareAnswer<T>> {
  try {
    return { kind: 'done', value: await send() };
  } catch (err) {
    // A closed run: the server says "not found" (completed) for an update to it.
    if (err instanceof WorkflowNotFoundError) return { kind: 'closed' };
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === AftercareFailure.Refused) return { kind: 'refused', message: cause.message };
    if (cause instanceof ApplicationFailure && cause.type === AftercareFailure.Closed) return { kind: 'closed' };
    throw err;
  }
}

/** Runs `fn` (Temporal calls) for at most `ms`: the calls are cancelled then, and null is returned. */
async function within<T>(client: AppDeps['temporal'], ms: number, fn: () => Promise<T>): Promise<T | null> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  try {
    return await client.withAbortSignal(ctrl.signal, fn);
  } catch (err) {
    if (ctrl.signal.aborted && (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isCancelled(err))) return null;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function isCancelled(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 1; // gRPC CANCELLED
}

const timingOf = (deps: RunDeps) => (deps.paymentTiming ? { timing: deps.paymentTiming } : {});

const paymentStart = (deps: RunDeps, input: PaymentWorkflowInput) => ({
  taskQueue: deps.taskQueues.payments,
  workflowId: workflowId.payment(input.paymentId),
  args: [input] as [PaymentWorkflowInput],
  ...ONE_RUN_PER_ID,
  typedSearchAttributes: [
    { key: TenantIdAttr, value: input.tenantId },
    { key: PaymentStatusAttr, value: 'pending' },
  ],
  priority: tenantPriority(input.tenantId),
});

/** Starts the payment's run (PaymentWorkflow, id `payment-<id>`) unless a concurrent or retried request with the same key did. */
export async function startPaymentRun(deps: RunDeps, input: PaymentWorkflowInput): Promise<void> {
  await startOnce(() => startWorkflow(deps.temporal, 'paymentWorkflow', paymentStart(deps, input)));
}

/**
 * Starts the payment's run if needed and waits, at most `seconds`, for its outcome: an
 * Update-with-Start on the run itself (no polling of the database). Every request for one payment
 * (the first and its concurrent duplicates) uses the same update id, so they all wait on one update.
 */
export async function startPaymentRunAndAwaitOutcome(deps: RunDeps, input: PaymentWorkflowInput, seconds: number): Promise<void> {
  const answered = await within(deps.temporal, seconds * 1000, async () => {
    try {
      await deps.temporal.workflow.executeUpdateWithStart(paymentOutcomeUpdate, {
        updateId: PAYMENT_UPDATE_IDS.outcome,
        startWorkflowOperation: new WithStartWorkflowOperation<Workflows['paymentWorkflow']>('paymentWorkflow', paymentStart(deps, input)),
      });
    } catch (err) {
      // The run closed already (it had its outcome, and its aftercare window is over): the row has it.
      if (err instanceof WorkflowExecutionAlreadyStartedError || err instanceof WorkflowNotFoundError) return true;
      // A run that cannot answer (terminated, or served by a worker still on code without the
      // outcome update during a rolling deploy): the answer is the row as it is.
      if (err instanceof WorkflowUpdateFailedError) return true;
      throw err;
    }
    return true;
  });
  // Timed out: the run was very likely started, but a start cancelled on the wire is made sure of.
  if (answered === null) await startPaymentRun(deps, input);
}

/**
 * Hands a reserved refund on to be carried out (RefundWorkflow, id `refund-<id>`, which can run once
 * only): first to the payment's own run (the refund shows in its story; the update id is the refund
 * id), else, when that run is closed, to a standalone run. Answers the run's reason when it refuses
 * the refund (the caller releases the reservation), else null.
 *
 * Bounded: with no worker to take the update, the refund stays reserved and pending, and a retry with
 * the same key (or the reconciliation sweep, which starts `refund-<id>`) hands it on.
 */
export async function handRefundOn(
  deps: RunDeps,
  refund: { refundId: string; paymentId: string; tenantId: string; amount: number },
): Promise<string | null> {
  const { refundId, paymentId, tenantId, amount } = refund;
  const answer = await throughPaymentRun(() =>
    within(deps.temporal, REFUND_HANDOVER_MS, () =>
      deps.temporal.workflow
        .getHandle(workflowId.payment(paymentId))
        .executeUpdate(refundPaymentUpdate, { args: [{ refundId, amount }], updateId: refundId }),
    ),
  );
  if (answer.kind === 'refused') return answer.message;
  if (answer.kind === 'closed') {
    await startOnce(() =>
      startWorkflow(deps.temporal, 'refundWorkflow', {
        taskQueue: deps.taskQueues.payments,
        workflowId: workflowId.refund(refundId),
        args: [{ refundId, paymentId, tenantId, amount, ...timingOf(deps) }],
        ...ONE_RUN_PER_ID,
        typedSearchAttributes: [{ key: TenantIdAttr, value: tenantId }],
        priority: tenantPriority(tenantId),
      }),
    );
  }
  return null;
}

/**
 * Runs the payment's one capture (CaptureWorkflow, id `capture-<payment id>-capture`): as a child of
 * the payment's own run while it is open, else standalone. Answers the run's refusal, or the capture's
 * outcome (null if it did not finish within 30 s).
 */
export async function capturePayment(
  deps: RunDeps,
  capture: { paymentId: string; tenantId: string; amount: number },
): Promise<{ kind: 'refused'; message: string } | { kind: 'ran'; outcome: CaptureOutcome | null }> {
  const { paymentId, tenantId, amount } = capture;
  const answer = await throughPaymentRun(() =>
    within(deps.temporal, CAPTURE_WAIT_MS, () =>
      deps.temporal.workflow
        .getHandle(workflowId.payment(paymentId))
        .executeUpdate(capturePaymentUpdate, { args: [{ amount }], updateId: PAYMENT_UPDATE_IDS.capture }),
    ),
  );
  if (answer.kind === 'refused') return answer;
  if (answer.kind === 'done') return { kind: 'ran', outcome: answer.value };
  await startOnce(() =>
    startWorkflow(deps.temporal, 'captureWorkflow', {
      taskQueue: deps.taskQueues.payments,
      workflowId: workflowId.capture(paymentId, 'capture'),
      args: [{ paymentId, tenantId, amount, ...timingOf(deps) }],
      ...ONE_RUN_PER_ID,
      typedSearchAttributes: [{ key: TenantIdAttr, value: tenantId }],
      priority: tenantPriority(tenantId),
    }),
  );
  const handle = deps.temporal.workflow.getHandle(workflowId.capture(paymentId, 'capture'));
  return { kind: 'ran', outcome: await resultWithin<CaptureOutcome>(handle, CAPTURE_WAIT_MS) };
}
