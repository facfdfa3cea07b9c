import {
  CancellationScope,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CircuitCall, PaymentActivities } from '../../activities/payments/payment-activities.js';
import { FailureType } from '../../domain/failures.js';
import {
  GATEWAY_STATUSES,
  isFinalAtGateway,
  paymentStatusFor,
  type GatewayStatus,
} from '../../domain/payments/payment-status.js';
import type { RoutingCandidate, RoutingDecision } from '../../domain/payments/routing.js';
import type { GatewayOutcome } from '../../providers/types.js';
import {
  gatewayCallbackSignal,
  paymentProgressQuery,
  type GatewayCallback,
  type PaymentWorkflowInput,
} from '../../shared/payment-messages.js';
import { GatewayAttr, PaymentStatusAttr } from '../../shared/search-attributes.js';
import { gatewayCall, localBookkeeping, statusQuery } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';
import { acceptRefundsAndCaptures, aftercare as aftercareWindow } from './payment-aftercare.js';
import {
  failureOf,
  progressOf,
  setStatus,
  startRun,
  type PaymentResult,
  type PaymentRun,
} from './payment-run.js';

/**
 * The bookkeeping of a payment runs as local activities (inside the workflow task), routing is one
 * call (load, decide, save) and the attempt row is written by the charge activity itself, so a
 * one-attempt payment takes two workflow tasks and one activity.
 */
const db =
  proxyLocalActivities<Pick<PaymentActivities, 'routePayment' | 'recordAttemptOutcome' | 'failPayment'>>(
    localBookkeeping,
  );
const gateway = waitingForTenantShare(
  proxyActivities<Pick<PaymentActivities, 'chargeGateway' | 'cancelAtGateway'>>(gatewayCall),
);
/** Questions to the gateway (lookups, callback confirmations), each allowed at most `withinMs` with its retries. */
const askingWithin = (withinMs: number) =>
  waitingForTenantShare(
    proxyActivities<Pick<PaymentActivities, 'queryGatewayStatus' | 'confirmCallback'>>({
      ...statusQuery,
      scheduleToCloseTimeout: withinMs,
    }),
  );

/** Aftercare continues a long-lived run as a new run of this workflow, with what it knows. */
const aftercare = (run: PaymentRun) =>
  aftercareWindow(run, (next: PaymentWorkflowInput) => continueAsNew<typeof paymentWorkflow>(next));

/** One attempt at one gateway: its idempotency key and what is still to be written with its outcome. */
interface Attempt {
  readonly number: number;
  readonly candidate: RoutingCandidate;
  readonly idempotencyKey: string;
  /** The last gateway call's outcome for the circuit breaker, written with the next attempt outcome. */
  circuit?: CircuitCall;
  /** Gateway calls made so far: each call's circuit outcome is keyed by its number. */
  gatewayCalls: number;
  /** Set when the charge was ambiguous: kept on the attempt beside the status a lookup resolved it to. */
  ambiguity?: { errorClass: 'ambiguous'; errorCode: string; errorMessage: string };
}

/** What comes after a step: the next candidate, or the payment has its outcome. */
type Next = 'fall back' | 'final';

/**
 * One payment, start to final status: route, charge each candidate in order with fallback (an
 * ambiguous charge is resolved by asking the gateway, never by charging twice), settle a known
 * outcome through callbacks or polls, then stay open for refunds and captures (aftercare).
 */
export async function paymentWorkflow(input: PaymentWorkflowInput): Promise<PaymentResult> {
  const run = startRun(input);
  acceptCallbacks(run);
  acceptRefundsAndCaptures(run);
  // A continued run: the charge is history; the aftercare window goes on where the last run stopped.
  if (input.aftercare) return aftercare(run);

  const decision = await route(run);
  if (decision.candidates.length === 0) {
    const why = decision.skipped.map((s) => s.reason).concat(decision.evaluatedRules.map((r) => r.reason));
    await fail(run, 'no_route', `no usable gateway: ${why.join('; ') || 'no routing rules'}`);
    return aftercare(run);
  }
  for (const candidate of decision.candidates) {
    const attempt = nextAttempt(run, candidate);
    const charged = await charge(run, attempt);
    const next = typeof charged === 'string' ? charged : await settle(run, attempt, charged);
    if (next === 'final') return aftercare(run);
  }
  if (run.status !== 'failed') await fail(run, 'all_gateways_failed', `all ${run.attempt} attempts failed`);
  return aftercare(run);
}

/**
 * Callbacks are buffered from the first moment, so one that arrives before a wait for it is kept.
 * Only the fields the verified webhook route sets are kept; anything else a sender adds is dropped.
 */
function acceptCallbacks(run: PaymentRun): void {
  setHandler(gatewayCallbackSignal, (cb) => {
    if (
      typeof cb?.connectionId !== 'string' ||
      !(GATEWAY_STATUSES as readonly string[]).includes(cb.status)
    ) {
      log.warn('ignoring a malformed gatewayCallback signal');
      return;
    }
    run.callbacks.push({
      eventId: String(cb.eventId),
      connectionId: cb.connectionId,
      status: cb.status,
      ...(typeof cb.reference === 'string' ? { reference: cb.reference } : {}),
    });
  });
  setHandler(paymentProgressQuery, () => progressOf(run));
}

/** The payment failed with nothing (more) to try. */
async function fail(run: PaymentRun, code: string, message: string): Promise<void> {
  setStatus(run, await db.failPayment({ paymentId: run.input.paymentId, code, message }));
}

/** Decides the gateways to try, in order (saved on the payment, which moves to processing). */
async function route(run: PaymentRun): Promise<RoutingDecision> {
  const { input } = run;
  const facts = {
    amount: input.amount,
    currency: input.currency,
    country: input.country,
    paymentMethodType: input.paymentMethod.type,
    captureMode: input.captureMode,
  };
  const { decision } = await db.routePayment({ paymentId: input.paymentId, tenantId: input.tenantId, facts });
  run.status = 'processing'; // published with the first attempt's gateway, in one search-attribute upsert
  return decision;
}

function nextAttempt(run: PaymentRun, candidate: RoutingCandidate): Attempt {
  run.attempt += 1;
  run.current = { connectionId: candidate.connectionId };
  upsertSearchAttributes([
    { key: GatewayAttr, value: candidate.provider },
    { key: PaymentStatusAttr, value: run.status },
  ]);
  return {
    number: run.attempt,
    candidate,
    idempotencyKey: `${run.input.paymentId}-${run.attempt}`,
    gatewayCalls: 0,
  };
}

/**
 * Charges one candidate. An attempt is sent at most twice, both times with the same idempotency key:
 * the second time only when the gateway has no record of the first after an ambiguous failure (so it
 * cannot charge twice). Answers the gateway's outcome, or what comes next when there is none.
 */
async function charge(run: PaymentRun, attempt: Attempt): Promise<GatewayOutcome | Next> {
  const { input } = run;
  const call = { tenantId: input.tenantId, connectionId: attempt.candidate.connectionId };
  const started = {
    paymentId: input.paymentId,
    tenantId: input.tenantId,
    attempt: attempt.number,
    connectionId: attempt.candidate.connectionId,
    provider: attempt.candidate.provider,
    reason: attempt.candidate.reason,
    idempotencyKey: attempt.idempotencyKey,
  };
  const request = {
    paymentId: input.paymentId,
    attempt: attempt.number,
    idempotencyKey: attempt.idempotencyKey,
    amount: input.amount,
    currency: input.currency,
    country: input.country,
    paymentMethod: input.paymentMethod.token,
    captureMode: input.captureMode,
    ...(input.customerId ? { customerId: input.customerId } : {}),
    ...(input.description ? { description: input.description } : {}),
    metadata: input.metadata,
  };
  for (let send = 1; send <= 2; send++) {
    try {
      const outcome = await gateway.chargeGateway({ ...call, charge: request, started });
      gatewayWorked(run, attempt, true);
      return outcome;
    } catch (err) {
      const failure = failureOf(err);
      if (failure.type === FailureType.HardDecline) {
        gatewayWorked(run, attempt, true); // the gateway worked; the card did not
        await record(run, attempt, {
          attemptStatus: 'failed',
          paymentStatus: 'failed',
          errorClass: 'hard_decline',
          errorCode: failure.code ?? 'declined',
          errorMessage: failure.message,
        });
        return 'final';
      }
      gatewayWorked(run, attempt, false);
      if (failure.type !== FailureType.Ambiguous) {
        await record(run, attempt, {
          attemptStatus: 'failed',
          paymentStatus: 'processing',
          errorClass: 'retryable',
          errorCode: failure.code ?? failure.type,
          errorMessage: failure.message,
        });
        log.warn('attempt failed, falling back', {
          attempt: attempt.number,
          connectionId: attempt.candidate.connectionId,
          error: failure.message,
        });
        return 'fall back';
      }
      attempt.ambiguity = {
        errorClass: 'ambiguous',
        errorCode: failure.code ?? 'ambiguous',
        errorMessage: failure.message,
      };
      await record(run, attempt, {
        attemptStatus: 'unknown',
        paymentStatus: 'unknown',
        ...attempt.ambiguity,
      });
      const resolved = await resolveAmbiguous(run, attempt);
      if (resolved === 'unresolved') return 'final';
      if (resolved !== null) {
        gatewayWorked(run, attempt, true);
        return resolved;
      }
      if (send === 2) {
        await record(run, attempt, {
          attemptStatus: 'failed',
          paymentStatus: 'processing',
          errorClass: 'ambiguous',
          errorCode: 'not_received',
          errorMessage: 'gateway has no record of the attempt after it was sent twice',
        });
      } else {
        log.warn('gateway has no record of the attempt; sending it again with the same idempotency key', {
          attempt: attempt.number,
        });
      }
    }
  }
  return 'fall back';
}

/** Asks the gateway until it answers: an outcome, null (never received), or 'unresolved' (gave up). */
async function resolveAmbiguous(
  run: PaymentRun,
  attempt: Attempt,
): Promise<GatewayOutcome | null | 'unresolved'> {
  try {
    return await askingWithin(run.timing.ambiguousResolutionMs).queryGatewayStatus({
      tenantId: run.input.tenantId,
      connectionId: attempt.candidate.connectionId,
      ref: {
        paymentId: run.input.paymentId,
        attempt: attempt.number,
        idempotencyKey: attempt.idempotencyKey,
      },
    });
  } catch (err) {
    log.error('could not resolve an ambiguous attempt; payment left as unknown for review', {
      attempt: attempt.number,
      error: failureOf(err).message,
    });
    return 'unresolved';
  }
}

/**
 * Takes a known outcome to a final one: waits for callbacks (a final one is confirmed with the
 * gateway), polls when a wait times out, and cancels the attempt when it stays stuck ('fall back').
 */
async function settle(run: PaymentRun, attempt: Attempt, first: GatewayOutcome): Promise<Next> {
  const { input, timing } = run;
  let outcome = first;
  const call = { tenantId: input.tenantId, connectionId: attempt.candidate.connectionId };
  const ref = () => ({
    paymentId: input.paymentId,
    attempt: attempt.number,
    idempotencyKey: attempt.idempotencyKey,
    reference: outcome.reference,
  });
  const matches = (cb: GatewayCallback) =>
    cb.connectionId === call.connectionId && (!cb.reference || cb.reference === outcome.reference);
  // One question (with its retries) may take at most one callback wait, so a gateway that stays down
  // still reaches the cancel below instead of being polled for ever.
  const gatewayAsked = askingWithin(timing.callbackTimeoutMs);
  const deadline = new CallbackDeadline(timing.callbackTimeoutMs);

  run.current.reference = outcome.reference;
  await saveOutcome(run, attempt, outcome);
  let polls = 0;
  while (!isFinalAtGateway(outcome.status)) {
    const before = outcome.status;
    if (await deadline.wait(() => run.callbacks.some(matches))) {
      const { status: claimed } = run.callbacks.splice(run.callbacks.findIndex(matches), 1)[0]!;
      if (!isFinalAtGateway(claimed)) outcome = { ...outcome, status: claimed };
      else
        outcome =
          (await confirmClaim(attempt, claimed, () =>
            gatewayAsked.confirmCallback({ ...call, ref: ref(), claimed }),
          )) ?? outcome;
    } else if (polls++ < timing.maxStatusPolls) {
      outcome =
        (await askInTime(attempt, () => gatewayAsked.queryGatewayStatus({ ...call, ref: ref() }))) ?? outcome;
    } else {
      await cancelStuck(run, attempt, outcome);
      return 'fall back';
    }
    if (outcome.status !== before) {
      deadline.end();
      await saveOutcome(run, attempt, outcome);
    }
  }
  run.current.reference = outcome.reference;
  return 'final';
}

/**
 * A callback is a claim, not a fact: a signal can be sent by anyone who can reach Temporal, so a final
 * status is taken from the gateway itself where the provider can be asked. Null: no answer in time.
 */
async function confirmClaim(
  attempt: Attempt,
  claimed: GatewayStatus,
  confirm: () => Promise<GatewayOutcome | null>,
): Promise<GatewayOutcome | null> {
  const confirmed = await askInTime(attempt, confirm);
  if (confirmed && confirmed.status !== claimed)
    log.warn('callback not confirmed by the gateway', {
      attempt: attempt.number,
      claimed,
      gateway: confirmed.status,
    });
  return confirmed;
}

/** The gateway's answer, or null when it gave none within the question's time. */
async function askInTime(
  attempt: Attempt,
  question: () => Promise<GatewayOutcome | null>,
): Promise<GatewayOutcome | null> {
  try {
    return await question();
  } catch (err) {
    log.warn('no answer from the gateway in time', {
      attempt: attempt.number,
      error: failureOf(err).message,
    });
    return null;
  }
}

/**
 * No final status after all polls: the attempt is canceled and the payment falls back. A gateway that
 * is down cannot cancel either: the attempt is then abandoned to reconciliation (it re-asks later and
 * reverses it if it went through after all).
 */
async function cancelStuck(run: PaymentRun, attempt: Attempt, outcome: GatewayOutcome): Promise<void> {
  log.warn('no final status after all polls; canceling the attempt', { attempt: attempt.number });
  try {
    await gateway.cancelAtGateway({
      tenantId: run.input.tenantId,
      connectionId: attempt.candidate.connectionId,
      reference: outcome.reference,
      idempotencyKey: `${attempt.idempotencyKey}-cancel`,
    });
  } catch (err) {
    log.warn('could not cancel the stuck attempt; abandoned for reconciliation', {
      attempt: attempt.number,
      error: failureOf(err).message,
    });
  }
  run.current.reference = outcome.reference;
  await record(run, attempt, {
    attemptStatus: 'failed',
    paymentStatus: 'processing',
    reference: outcome.reference,
    errorClass: 'retryable',
    errorCode: 'gateway_timeout',
    errorMessage: 'no final status from the gateway in time',
  });
}

/**
 * The one timer of a wait for a callback, kept while callbacks only repeat the status: a gateway that
 * keeps saying "pending" neither postpones the next poll nor costs a new timer per callback.
 */
class CallbackDeadline {
  private armed: { scope: CancellationScope; expired: boolean } | undefined;

  constructor(private readonly ms: number) {}

  /** True when a callback arrived; false when the wait's time ran out (the next wait starts a new timer). */
  async wait(arrived: () => boolean): Promise<boolean> {
    if (!this.armed) {
      const armed = { scope: new CancellationScope(), expired: false };
      armed.scope
        .run(() => sleep(this.ms))
        .then(
          () => (armed.expired = true),
          () => undefined, // cancelled: the status moved on
        );
      this.armed = armed;
    }
    const current = this.armed;
    await condition(() => arrived() || current.expired);
    if (arrived()) return true;
    this.armed = undefined;
    return false;
  }

  /** The status moved on: the next wait gets a full wait of its own. */
  end(): void {
    this.armed?.scope.cancel();
    this.armed = undefined;
  }
}

type AttemptFields = Omit<
  Parameters<PaymentActivities['recordAttemptOutcome']>[0],
  'paymentId' | 'attempt' | 'connectionId' | 'circuit'
>;

/**
 * A gateway call's outcome for the circuit breaker rides along with the attempt outcome written right
 * after it (every path of a charge writes one), keyed by the call so a re-run counts it once.
 */
function gatewayWorked(run: PaymentRun, attempt: Attempt, ok: boolean): void {
  attempt.gatewayCalls += 1;
  attempt.circuit = {
    tenantId: run.input.tenantId,
    ok,
    callKey: `${attempt.idempotencyKey}-${attempt.gatewayCalls}`,
  };
}

/** Writes the attempt's outcome (with the pending circuit outcome) and moves the payment forward. */
async function record(run: PaymentRun, attempt: Attempt, fields: AttemptFields): Promise<void> {
  const circuit = attempt.circuit ? { circuit: attempt.circuit } : {};
  attempt.circuit = undefined;
  setStatus(
    run,
    await db.recordAttemptOutcome({
      paymentId: run.input.paymentId,
      attempt: attempt.number,
      connectionId: attempt.candidate.connectionId,
      ...fields,
      ...circuit,
    }),
  );
}

/** Writes a gateway outcome as the attempt's status (and the captured amount once it succeeded). */
async function saveOutcome(run: PaymentRun, attempt: Attempt, outcome: GatewayOutcome): Promise<void> {
  if (outcome.status === 'succeeded') run.amountCaptured = outcome.amountCaptured ?? run.input.amount;
  await record(run, attempt, {
    attemptStatus: outcome.status,
    paymentStatus: paymentStatusFor(outcome.status),
    reference: outcome.reference,
    ...attempt.ambiguity,
    ...(outcome.status === 'failed'
      ? {
          errorClass: 'hard_decline',
          errorCode: outcome.declineCode ?? 'declined',
          errorMessage: outcome.message ?? 'declined by gateway',
        }
      : {}),
    ...(outcome.status === 'succeeded' ? { amountCaptured: outcome.amountCaptured ?? run.input.amount } : {}),
  });
}
