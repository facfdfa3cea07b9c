import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  log,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type UpdateDefinition } from '@temporalio/common';
import { decideCapture } from '../../domain/payments/capture-rules.js';
import { canTransition, takesAftercare, type PaymentStatus } from '../../domain/payments/payment-status.js';
import { decideRefund, type AftercareVerdict } from '../../domain/payments/refund-rules.js';
import {
  AftercareFailure,
  capturePaymentUpdate,
  paymentOutcomeUpdate,
  refundPaymentUpdate,
  type CaptureOutcome,
  type CaptureRequest,
  type PaymentAftercareState,
  type PaymentWorkflowInput,
  type RefundAccepted,
  type RefundRequest,
} from '../../shared/payment-messages.js';
import { TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import {
  failureOf,
  progressOf,
  resultOf,
  setStatus,
  type PaymentResult,
  type PaymentRun,
} from './payment-run.js';
import { captureWorkflow, refundWorkflow } from './refund-and-capture.js';

/*
 * Aftercare: the run stays open after a captured or authorized outcome and takes refunds and captures
 * as Workflow Updates, each carried out by a child workflow, so the payment's whole story is one run
 * in the Temporal UI.
 */

/**
 * Continues the payment as a new run with the given input: the payment workflow passes it in (typed
 * by itself), so aftercare need not import the workflow that imports it.
 */
export type ContinuePayment = (input: PaymentWorkflowInput) => Promise<never>;

/**
 * The aftercare window is a deadline carried across continue-as-new, so it needs the clock: inside a
 * workflow, Date is the sandbox's deterministic clock (the current workflow task's time, the same on
 * replay), which is why this one use is allowed.
 */
// eslint-disable-next-line no-restricted-properties
const workflowTime = (): number => Date.now();

/** The payment has its outcome: stay open for the aftercare window where it applies, then close. */
export async function aftercare(run: PaymentRun, continuePayment: ContinuePayment): Promise<PaymentResult> {
  run.chargeDone = true;
  if (run.input.aftercare || (run.timing.aftercareWindowMs > 0 && takesAftercare(run.status))) {
    await stayOpen(run, run.input.aftercare?.closesAt ?? workflowTime() + run.timing.aftercareWindowMs, continuePayment);
  }
  run.closing = true;
  if (!finished(run)) await condition(() => finished(run));
  return resultOf(run);
}

/** No update handler and no refund child still running. */
const finished = (run: PaymentRun) => allHandlersFinished() && run.childrenRunning === 0;

/**
 * Keeps the run open until the aftercare window closes, continuing as new (with what it knows) when
 * its history grows long; never while an update or a refund child is still running.
 */
async function stayOpen(run: PaymentRun, closesAt: number, continuePayment: ContinuePayment): Promise<void> {
  const historyFull = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= run.timing.aftercareHistoryLimit;
  for (;;) {
    const left = closesAt - workflowTime();
    if (left > 0) await condition(historyFull, left);
    if (workflowTime() >= closesAt) return;
    if (historyFull()) {
      await condition(() => finished(run));
      const state: PaymentAftercareState = {
        status: run.status,
        attempts: run.attempt,
        ...run.current,
        amountCaptured: run.amountCaptured,
        refunds: Object.fromEntries(run.refunds),
        ...(run.capture ? { capture: run.capture } : {}),
        closesAt,
      };
      await continuePayment({ ...run.input, aftercare: state });
    }
  }
}

/** The update handlers: the payment's outcome (for the API's `?wait`), refunds and the capture. */
export function acceptRefundsAndCaptures(run: PaymentRun): void {
  setHandler(paymentOutcomeUpdate, async () => {
    await condition(() => run.chargeDone);
    return progressOf(run);
  });
  acceptAftercare(run, refundPaymentUpdate, {
    shape: (req) => {
      if (typeof req?.refundId !== 'string' || req.refundId === '') throw refuse('refundId is required');
      if (typeof req.amount !== 'number') throw refuse('amount is required');
    },
    check: checkRefund,
    carryOut: refund,
  });
  acceptAftercare(run, capturePaymentUpdate, {
    shape: (req) => {
      if (typeof req?.amount !== 'number') throw refuse('amount is required');
    },
    check: checkCapture,
    carryOut: capture,
  });
}

/**
 * A refund or capture update: refused at once (validator) when the run is closing, the request is
 * malformed, or the outcome is known and the request breaks its rule; otherwise carried out once the
 * charge is done (an update that raced the outcome, the read model having seen it a moment before
 * this run did, waits for it) and the rule holds then.
 */
function acceptAftercare<Req, Res>(
  run: PaymentRun,
  update: UpdateDefinition<Res, [Req]>,
  steps: {
    shape: (req: Req) => void;
    check: (run: PaymentRun, req: Req) => void;
    carryOut: (run: PaymentRun, req: Req) => Promise<Res>;
  },
): void {
  setHandler(
    update,
    async (req) => {
      await condition(() => run.chargeDone);
      steps.check(run, req);
      return steps.carryOut(run, req);
    },
    {
      validator: (req) => {
        checkOpen(run);
        steps.shape(req);
        if (run.chargeDone) steps.check(run, req);
      },
    },
  );
}

/**
 * Starts the refund's child workflow: the same refund workflow as the standalone path, with all its
 * guarantees (ambiguous refunds resolved by lookup, the reservation released only on a known failure,
 * pending refunds waited for), and the same id: a refund id can never run twice, whichever path starts it.
 */
async function refund(run: PaymentRun, req: RefundRequest): Promise<RefundAccepted> {
  const { input } = run;
  const accepted = { refundId: req.refundId, workflowId: workflowId.refund(req.refundId) };
  if (run.refunds.has(req.refundId)) return accepted;
  run.refunds.set(req.refundId, { amount: req.amount, status: 'pending' });
  run.childrenRunning += 1;
  try {
    const child = await startChild(refundWorkflow, {
      workflowId: accepted.workflowId,
      args: [
        {
          refundId: req.refundId,
          paymentId: input.paymentId,
          tenantId: input.tenantId,
          amount: req.amount,
          ...(input.timing ? { timing: input.timing } : {}),
        },
      ],
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantIdAttr, value: input.tenantId }],
    });
    void child
      .result()
      .then(
        (result) => {
          run.refunds.set(req.refundId, { amount: req.amount, status: result.status });
          moveForward(run, result.paymentStatus);
        },
        (err: unknown) =>
          log.error('refund workflow failed; its amount stays reserved for review', {
            refundId: req.refundId,
            error: failureOf(err).message,
          }),
      )
      .finally(() => (run.childrenRunning -= 1));
  } catch (err) {
    run.childrenRunning -= 1;
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    log.warn('refund already run by a standalone workflow; its outcome is recorded there', {
      refundId: req.refundId,
    });
  }
  return accepted;
}

/** Runs the payment's one capture as a child workflow and answers its outcome (again, to a retry). */
async function capture(run: PaymentRun, req: CaptureRequest): Promise<CaptureOutcome> {
  const { input } = run;
  if (run.capturing) await condition(() => !run.capturing);
  if (run.capture) return run.capture;
  run.capturing = true;
  let outcome: CaptureOutcome;
  try {
    outcome = await executeChild(captureWorkflow, {
      workflowId: workflowId.capture(input.paymentId, 'capture'),
      args: [
        {
          paymentId: input.paymentId,
          tenantId: input.tenantId,
          amount: req.amount,
          ...(input.timing ? { timing: input.timing } : {}),
        },
      ],
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: TenantIdAttr, value: input.tenantId }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    outcome = {
      status: run.status,
      error: 'this payment was already captured by a standalone capture workflow',
    };
  } finally {
    run.capturing = false;
  }
  run.capture = outcome;
  if (outcome.status === 'succeeded') {
    run.amountCaptured = req.amount;
    moveForward(run, 'succeeded');
  }
  return outcome;
}

/** Forward only: two refunds finishing out of order never move the status backwards. */
function moveForward(run: PaymentRun, next: PaymentStatus): void {
  if (canTransition(run.status, next)) setStatus(run, next);
}

const refuse = (message: string) =>
  ApplicationFailure.create({ type: AftercareFailure.Refused, message, nonRetryable: true });

function checkOpen(run: PaymentRun): void {
  if (run.closing) {
    throw ApplicationFailure.create({
      type: AftercareFailure.Closed,
      message: 'this payment run takes no more refunds or captures; use a standalone workflow',
      nonRetryable: true,
    });
  }
}

function checkRefund(run: PaymentRun, req: RefundRequest): void {
  if (run.refunds.has(req.refundId)) return; // a retry of a refund this run took: answered again
  const payment = { id: run.input.paymentId, status: run.status, amountCaptured: run.amountCaptured };
  obey(decideRefund(payment, run.refunds.values(), req.amount));
}

function checkCapture(run: PaymentRun, req: CaptureRequest): void {
  if (run.capture || run.capturing) return; // the one capture of this payment: its outcome is answered again
  obey(decideCapture({ id: run.input.paymentId, status: run.status, amount: run.input.amount }, req.amount));
}

function obey(verdict: AftercareVerdict): void {
  if (!verdict.ok) throw refuse(verdict.reason);
}
