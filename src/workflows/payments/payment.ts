import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CircuitCall, PaymentActivities } from '../../activities/payments/payment-activities.js';
import { FailureType } from '../../domain/failures.js';
import { canTransition, GATEWAY_STATUSES, paymentStatusFor, type GatewayStatus, type PaymentStatus } from '../../domain/payments/payment-status.js';
import type { RoutingCandidate } from '../../domain/payments/routing.js';
import type { GatewayOutcome } from '../../providers/types.js';
import {
  AftercareFailure,
  capturePaymentUpdate,
  DEFAULT_PAYMENT_TIMING,
  gatewayCallbackSignal,
  paymentOutcomeUpdate,
  paymentProgressQuery,
  refundPaymentUpdate,
  type CaptureOutcome,
  type CaptureRequest,
  type GatewayCallback,
  type PaymentAftercareState,
  type PaymentWorkflowInput,
  type RefundRequest,
} from '../../shared/payment-messages.js';
import { GatewayAttr, PaymentStatusAttr, TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { gatewayCall, localBookkeeping, statusQuery } from '../activity-options.js';
import { captureWorkflow, refundWorkflow } from './refund-and-capture.js';
import { waitingForTenantShare } from '../tenant-share.js';

/** Each proxy offers only the activities it is meant for: a gateway call cannot go out with bookkeeping's options. */
type Asking = Pick<PaymentActivities, 'queryGatewayStatus' | 'confirmCallback'>;
const localDb = proxyLocalActivities<Pick<PaymentActivities, 'routePayment' | 'recordAttemptOutcome' | 'failPayment'>>(localBookkeeping);
const gateway = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'chargeGateway' | 'cancelAtGateway'>>(gatewayCall));

const FINAL: ReadonlySet<GatewayStatus> = new Set(['succeeded', 'authorized', 'failed', 'canceled']);
/**
 * The aftercare window is a deadline carried across continue-as-new, so it needs the clock: inside a
 * workflow, Date is the sandbox's deterministic clock (the current workflow task's time, the same on
 * replay), which is why this one use is allowed.
 */
// eslint-disable-next-line no-restricted-properties
const workflowTime = (): number => Date.now();

/** Outcomes after which the run stays open for refunds and captures (the aftercare window). */
const AFTERCARE: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'authorized', 'partially_refunded']);
const REFUNDABLE: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'partially_refunded']);

export interface PaymentResult {
  status: PaymentStatus;
  attempts: number;
  connectionId?: string;
  reference?: string;
}

function failureOf(err: unknown): { type: string; message: string; code?: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as { code?: string } | undefined;
    return { type: cause.type ?? 'Error', message: cause.message, ...(details?.code ? { code: details.code } : {}) };
  }
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/**
 * One payment, start to final status: route, attempt each candidate in order with fallback, resolve
 * ambiguous attempts by asking the gateway (never charging twice), and wait for callbacks or poll.
 */
export async function paymentWorkflow(input: PaymentWorkflowInput): Promise<PaymentResult> {
  const timing = { ...DEFAULT_PAYMENT_TIMING, ...input.timing };
  const callbacks: GatewayCallback[] = [];
  let status = 'pending' as PaymentStatus;
  let attempt = 0;
  let current: { connectionId?: string; reference?: string } = {};

  // Callbacks are buffered from the first moment, so one that arrives before we wait for it is kept.
  // Only the fields the verified webhook route sets are kept; anything else a sender adds is dropped.
  setHandler(gatewayCallbackSignal, (cb) => {
    if (typeof cb?.connectionId !== 'string' || !(GATEWAY_STATUSES as readonly string[]).includes(cb.status)) {
      log.warn('ignoring a malformed gatewayCallback signal');
      return;
    }
    callbacks.push({
      eventId: String(cb.eventId),
      connectionId: cb.connectionId,
      status: cb.status,
      ...(typeof cb.reference === 'string' ? { reference: cb.reference } : {}),
    });
  });
  const progress = () => ({ status, attempt, ...current, pendingCallbacks: callbacks.length });
  setHandler(paymentProgressQuery, progress);

  const setStatus = (next: PaymentStatus) => {
    if (next === status) return;
    status = next;
    upsertSearchAttributes([{ key: PaymentStatusAttr, value: status }]);
  };
  const done = (): PaymentResult => ({ status, attempts: attempt, ...current });

  // Aftercare: the run stays open after a captured or authorized outcome and takes refunds and
  // captures as Workflow Updates, each carried out by a child workflow, so the payment's whole story
  // is one run in the Temporal UI.
  let chargeDone = false;
  let closing = false;
  let amountCaptured = 0;
  let capture: CaptureOutcome | undefined;
  let capturing = false;
  const refunds = new Map(Object.entries(input.aftercare?.refunds ?? {}));
  let childrenRunning = 0;
  const finished = () => allHandlersFinished() && childrenRunning === 0;
  // Forward only: two refunds finishing out of order never move the search attribute backwards.
  const moveTo = (next: PaymentStatus) => {
    if (canTransition(status, next)) setStatus(next);
  };
  const refuse = (message: string) => ApplicationFailure.create({ type: AftercareFailure.Refused, message, nonRetryable: true });
  const checkOpen = () => {
    if (closing) {
      throw ApplicationFailure.create({ type: AftercareFailure.Closed, message: 'this payment run takes no more refunds or captures; use a standalone workflow', nonRetryable: true });
    }
  };
  const refundable = () => amountCaptured - [...refunds.values()].filter((r) => r.status !== 'failed').reduce((sum, r) => sum + r.amount, 0);
  const checkRefund = (req: RefundRequest) => {
    if (refunds.has(req.refundId)) return; // a retry of a refund this run took: answered again below
    if (!REFUNDABLE.has(status)) throw refuse(`payment ${input.paymentId} is ${status}; only captured payments can be refunded`);
    const left = refundable();
    if (!Number.isInteger(req.amount) || req.amount <= 0 || req.amount > left) {
      throw refuse(`refund of ${req.amount} exceeds the refundable amount ${left} (captured ${amountCaptured}, already refunded or pending ${amountCaptured - left})`);
    }
  };
  const checkCapture = (req: CaptureRequest) => {
    if (capture || capturing) return; // the one capture of this payment: its outcome is answered again
    if (status !== 'authorized') throw refuse(`payment ${input.paymentId} is ${status}; only authorized payments can be captured`);
    if (!Number.isInteger(req.amount) || req.amount <= 0 || req.amount > input.amount) {
      throw refuse(`capture of ${req.amount} exceeds the authorized ${input.amount}`);
    }
  };

  setHandler(paymentOutcomeUpdate, async () => {
    await condition(() => chargeDone);
    return progress();
  });

  setHandler(
    refundPaymentUpdate,
    async (req) => {
      // An update that raced the outcome (the read model said captured a moment before this run did) waits for it.
      await condition(() => chargeDone);
      checkRefund(req);
      const accepted = { refundId: req.refundId, workflowId: workflowId.refund(req.refundId) };
      if (refunds.has(req.refundId)) return accepted;
      refunds.set(req.refundId, { amount: req.amount, status: 'pending' });
      childrenRunning += 1;
      try {
        // The same refund workflow as the standalone path, with all its guarantees (ambiguous refunds
        // resolved by lookup, the reservation released only on a known failure, pending refunds
        // waited for), and the same id: a refund id can never run twice, whichever path starts it.
        const child = await startChild(refundWorkflow, {
          workflowId: accepted.workflowId,
          args: [{ refundId: req.refundId, paymentId: input.paymentId, tenantId: input.tenantId, amount: req.amount, ...(input.timing ? { timing: input.timing } : {}) }],
          parentClosePolicy: 'ABANDON',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [{ key: TenantIdAttr, value: input.tenantId }],
        });
        void child
          .result()
          .then(
            (result) => {
              refunds.set(req.refundId, { amount: req.amount, status: result.status });
              moveTo(result.paymentStatus);
            },
            (err: unknown) => log.error('refund workflow failed; its amount stays reserved for review', { refundId: req.refundId, error: failureOf(err).message }),
          )
          .finally(() => (childrenRunning -= 1));
      } catch (err) {
        childrenRunning -= 1;
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        log.warn('refund already run by a standalone workflow; its outcome is recorded there', { refundId: req.refundId });
      }
      return accepted;
    },
    {
      validator: (req) => {
        checkOpen();
        if (typeof req?.refundId !== 'string' || req.refundId === '') throw refuse('refundId is required');
        if (chargeDone) checkRefund(req);
      },
    },
  );

  setHandler(
    capturePaymentUpdate,
    async (req) => {
      await condition(() => chargeDone);
      checkCapture(req);
      if (capturing) await condition(() => !capturing);
      if (capture) return capture;
      capturing = true;
      try {
        capture = await executeChild(captureWorkflow, {
          workflowId: workflowId.capture(input.paymentId, 'capture'),
          args: [{ paymentId: input.paymentId, tenantId: input.tenantId, amount: req.amount, ...(input.timing ? { timing: input.timing } : {}) }],
          parentClosePolicy: 'ABANDON',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [{ key: TenantIdAttr, value: input.tenantId }],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        capture = { status, error: 'this payment was already captured by a standalone capture workflow' };
      } finally {
        capturing = false;
      }
      if (capture.status === 'succeeded') {
        amountCaptured = req.amount;
        moveTo('succeeded');
      }
      return capture;
    },
    {
      validator: (req) => {
        checkOpen();
        if (chargeDone) checkCapture(req);
      },
    },
  );

  if (input.aftercare) {
    // A continued run: the charge is history; pick the aftercare window up where the last run stopped.
    ({ status, attempts: attempt, amountCaptured } = input.aftercare);
    current = { ...(input.aftercare.connectionId ? { connectionId: input.aftercare.connectionId } : {}), ...(input.aftercare.reference ? { reference: input.aftercare.reference } : {}) };
    capture = input.aftercare.capture;
    return afterOutcome();
  }

  // The bookkeeping of a payment runs as local activities, routing is one call (load, decide, save)
  // and the attempt row is written by the charge activity itself, so a one-attempt payment takes two
  // workflow tasks and one activity.
  const book = localDb;
  const facts = { amount: input.amount, currency: input.currency, country: input.country, paymentMethodType: input.paymentMethod.type, captureMode: input.captureMode };
  const { decision } = await localDb.routePayment({ paymentId: input.paymentId, tenantId: input.tenantId, facts });
  status = 'processing' as PaymentStatus; // published with the first attempt's gateway, in one search-attribute upsert

  if (decision.candidates.length === 0) {
    const why = decision.skipped.map((s) => s.reason).concat(decision.evaluatedRules.map((r) => r.reason));
    setStatus(await book.failPayment({ paymentId: input.paymentId, code: 'no_route', message: `no usable gateway: ${why.join('; ') || 'no routing rules'}` }));
    return afterOutcome();
  }

  for (const candidate of decision.candidates) {
    attempt += 1;
    const idempotencyKey = `${input.paymentId}-${attempt}`;
    current = { connectionId: candidate.connectionId };
    const call = { tenantId: input.tenantId, connectionId: candidate.connectionId };
    // A gateway call's outcome for the circuit breaker rides along with the attempt outcome written
    // right after it (every branch below writes one), keyed by the call.
    let circuit: CircuitCall | undefined;
    let gatewayOutcomes = 0;
    const gatewayWorked = (ok: boolean) => {
      gatewayOutcomes += 1;
      circuit = { tenantId: input.tenantId, ok, callKey: `${idempotencyKey}-${gatewayOutcomes}` };
    };
    const record = async (fields: Omit<Parameters<PaymentActivities['recordAttemptOutcome']>[0], 'paymentId' | 'attempt' | 'connectionId' | 'circuit'>) => {
      const withCircuit = circuit ? { circuit } : {};
      circuit = undefined;
      setStatus(await book.recordAttemptOutcome({ paymentId: input.paymentId, attempt, connectionId: candidate.connectionId, ...fields, ...withCircuit }));
    };

    const started = {
      paymentId: input.paymentId,
      tenantId: input.tenantId,
      attempt,
      connectionId: candidate.connectionId,
      provider: candidate.provider,
      reason: candidate.reason,
      idempotencyKey,
    };
    upsertSearchAttributes([
      { key: GatewayAttr, value: candidate.provider },
      { key: PaymentStatusAttr, value: status },
    ]);

    const charge = {
      paymentId: input.paymentId,
      attempt,
      idempotencyKey,
      amount: input.amount,
      currency: input.currency,
      country: input.country,
      paymentMethod: input.paymentMethod.token,
      captureMode: input.captureMode,
      ...(input.customerId ? { customerId: input.customerId } : {}),
      ...(input.description ? { description: input.description } : {}),
      metadata: input.metadata,
    };
    let outcome: GatewayOutcome | null = null;
    // Set when the attempt was ambiguous: kept on the attempt beside the status a lookup resolved it to.
    let ambiguity: { errorClass: 'ambiguous'; errorCode: string; errorMessage: string } | undefined;
    // An attempt is sent at most twice, both times with the same idempotency key: the second time only
    // when the gateway has no record of the first after an ambiguous failure (so it cannot charge twice).
    for (let send = 1; outcome === null && send <= 2; send++) {
      try {
        outcome = await gateway.chargeGateway({ ...call, charge, started });
      } catch (err) {
        const failure = failureOf(err);
        if (failure.type === FailureType.HardDecline) {
          gatewayWorked(true); // the gateway worked; the card did not
          await record({ attemptStatus: 'failed', paymentStatus: 'failed', errorClass: 'hard_decline', errorCode: failure.code ?? 'declined', errorMessage: failure.message });
          return afterOutcome();
        }
        gatewayWorked(false);
        if (failure.type !== FailureType.Ambiguous) {
          await record({ attemptStatus: 'failed', paymentStatus: 'processing', errorClass: 'retryable', errorCode: failure.code ?? failure.type, errorMessage: failure.message });
          log.warn('attempt failed, falling back', { attempt, connectionId: candidate.connectionId, error: failure.message });
          break;
        }
        ambiguity = { errorClass: 'ambiguous', errorCode: failure.code ?? 'ambiguous', errorMessage: failure.message };
        await record({ attemptStatus: 'unknown', paymentStatus: 'unknown', ...ambiguity });
        const resolved = await resolveAmbiguous(candidate, idempotencyKey, attempt);
        if (resolved === 'unresolved') return afterOutcome();
        if (resolved !== null) {
          outcome = resolved;
        } else if (send === 2) {
          await record({ attemptStatus: 'failed', paymentStatus: 'processing', errorClass: 'ambiguous', errorCode: 'not_received', errorMessage: 'gateway has no record of the attempt after it was sent twice' });
        } else {
          log.warn('gateway has no record of the attempt; sending it again with the same idempotency key', { attempt });
        }
      }
    }
    if (outcome === null) continue;

    gatewayWorked(true);
    const final = await settle(outcome, candidate, idempotencyKey, record, ambiguity);
    current.reference = final.reference;
    if (final.status === 'failed' && final.declineCode === 'gateway_timeout') continue;
    return afterOutcome();
  }

  if (status !== 'failed') {
    setStatus(await book.failPayment({ paymentId: input.paymentId, code: 'all_gateways_failed', message: `all ${attempt} attempts failed` }));
  }
  return afterOutcome();

  /** The payment has its outcome: stay open for the aftercare window where it applies, then close. */
  async function afterOutcome(): Promise<PaymentResult> {
    chargeDone = true;
    if (input.aftercare || (timing.aftercareWindowMs > 0 && AFTERCARE.has(status))) {
      await stayOpenForAftercare(input.aftercare?.closesAt ?? workflowTime() + timing.aftercareWindowMs);
    }
    closing = true;
    if (!finished()) await condition(finished);
    return done();
  }

  /**
   * Keeps the run open until the aftercare window closes, continuing as new (with what it knows) when
   * its history grows long; never while an update or a refund child is still running.
   */
  async function stayOpenForAftercare(closesAt: number): Promise<void> {
    const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= timing.aftercareHistoryLimit;
    for (;;) {
      const left = closesAt - workflowTime();
      if (left > 0) await condition(historyFull, left);
      if (workflowTime() >= closesAt) return;
      if (historyFull()) {
        await condition(finished);
        const state: PaymentAftercareState = { status, attempts: attempt, ...current, amountCaptured, refunds: Object.fromEntries(refunds), ...(capture ? { capture } : {}), closesAt };
        await continueAsNew<typeof paymentWorkflow>({ ...input, aftercare: state });
      }
    }
  }

  /** Asks the gateway until it answers: an outcome, null (never received), or 'unresolved' (gave up). */
  async function resolveAmbiguous(candidate: RoutingCandidate, idempotencyKey: string, n: number): Promise<GatewayOutcome | null | 'unresolved'> {
    const query = waitingForTenantShare(proxyActivities<Pick<PaymentActivities, 'queryGatewayStatus'>>({ ...statusQuery, scheduleToCloseTimeout: timing.ambiguousResolutionMs }));
    try {
      return await query.queryGatewayStatus({
        tenantId: input.tenantId,
        connectionId: candidate.connectionId,
        ref: { paymentId: input.paymentId, attempt: n, idempotencyKey },
      });
    } catch (err) {
      log.error('could not resolve an ambiguous attempt; payment left as unknown for review', { attempt: n, error: failureOf(err).message });
      return 'unresolved';
    }
  }

  /** Takes a known outcome to a final one: waits for callbacks, polls on timeout, cancels when stuck. */
  async function settle(
    first: GatewayOutcome,
    candidate: RoutingCandidate,
    idempotencyKey: string,
    record: (f: Omit<Parameters<PaymentActivities['recordAttemptOutcome']>[0], 'paymentId' | 'attempt' | 'connectionId'>) => Promise<void>,
    ambiguity?: { errorClass: 'ambiguous'; errorCode: string; errorMessage: string },
  ): Promise<GatewayOutcome> {
    let outcome = first;
    current.reference = outcome.reference;
    const save = () => {
      if (outcome.status === 'succeeded') amountCaptured = outcome.amountCaptured ?? input.amount;
      return record({
        attemptStatus: outcome.status,
        paymentStatus: paymentStatusFor(outcome.status),
        reference: outcome.reference,
        ...ambiguity,
        ...(outcome.status === 'failed' ? { errorClass: 'hard_decline', errorCode: outcome.declineCode ?? 'declined', errorMessage: outcome.message ?? 'declined by gateway' } : {}),
        ...(outcome.status === 'succeeded' ? { amountCaptured: outcome.amountCaptured ?? input.amount } : {}),
      });
    };
    await save();
    const matches = (cb: GatewayCallback) =>
      cb.connectionId === candidate.connectionId && (!cb.reference || cb.reference === outcome.reference);
    const call = { tenantId: input.tenantId, connectionId: candidate.connectionId };
    const ref = () => ({ paymentId: input.paymentId, attempt, idempotencyKey, reference: outcome.reference });
    // One poll (with its retries) may take at most one callback wait, so a gateway that stays down
    // still reaches the cancel branch below instead of being polled for ever.
    const boundedCheck = waitingForTenantShare(proxyActivities<Asking>({ ...statusQuery, scheduleToCloseTimeout: timing.callbackTimeoutMs }));
    const ask = async (what: () => Promise<GatewayOutcome | null>): Promise<GatewayOutcome | null> => {
      try {
        return await what();
      } catch (err) {
        log.warn('no answer from the gateway in time', { attempt, error: failureOf(err).message });
        return null;
      }
    };
    // One timer per wait for a callback, kept while callbacks only repeat the status: a gateway that
    // keeps saying "pending" neither postpones the next poll nor costs a new timer per callback.
    let deadline: { scope: CancellationScope; expired: boolean } | undefined;
    const waitForCallback = async (): Promise<boolean> => {
      if (!deadline) {
        const armed = { scope: new CancellationScope(), expired: false };
        armed.scope.run(() => sleep(timing.callbackTimeoutMs)).then(
          () => (armed.expired = true),
          () => undefined, // cancelled: the status moved on
        );
        deadline = armed;
      }
      const current = deadline;
      await condition(() => callbacks.some(matches) || current.expired);
      if (callbacks.some(matches)) return true;
      deadline = undefined;
      return false;
    };
    const endWait = () => {
      deadline?.scope.cancel();
      deadline = undefined;
    };
    let polls = 0;
    while (!FINAL.has(outcome.status)) {
      const arrived = await waitForCallback();
      const before = outcome.status;
      if (arrived) {
        const index = callbacks.findIndex(matches);
        const [cb] = callbacks.splice(index, 1);
        if (FINAL.has(cb!.status)) {
          // A callback is a claim, not a fact: a signal can be sent by anyone who can reach Temporal, so
          // a final status is taken from the gateway itself where the provider can be asked.
          const confirmed = await ask(() => boundedCheck.confirmCallback({ ...call, ref: ref(), claimed: cb!.status }));
          if (confirmed && confirmed.status !== cb!.status) log.warn('callback not confirmed by the gateway', { attempt, claimed: cb!.status, gateway: confirmed.status });
          if (confirmed) outcome = confirmed;
        } else {
          outcome = { ...outcome, status: cb!.status };
        }
      } else if (polls++ < timing.maxStatusPolls) {
        const polled = await ask(() => boundedCheck.queryGatewayStatus({ ...call, ref: ref() }));
        if (polled) outcome = polled;
      } else {
        log.warn('no final status after all polls; canceling the attempt', { attempt });
        const cancel = { ...call, reference: outcome.reference, idempotencyKey: `${idempotencyKey}-cancel` };
        // A gateway that is down cannot cancel either: the attempt is abandoned and left to
        // reconciliation (it re-asks later and reverses it if it went through after all).
        try {
          await gateway.cancelAtGateway(cancel);
        } catch (err) {
          log.warn('could not cancel the stuck attempt; abandoned for reconciliation', { attempt, error: failureOf(err).message });
        }
        outcome = { ...outcome, status: 'failed', declineCode: 'gateway_timeout', message: 'no final status from the gateway in time' };
        await record({ attemptStatus: 'failed', paymentStatus: 'processing', reference: outcome.reference, errorClass: 'retryable', errorCode: 'gateway_timeout', errorMessage: outcome.message! });
        return outcome;
      }
      if (outcome.status !== before) {
        endWait();
        await save();
      }
    }
    return outcome;
  }
}
