import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter, WorkflowUpdateFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PaymentActivities } from '../../src/activities/payments/payment-activities.js';
import type { RoutingDecision } from '../../src/domain/payments/routing.js';
import type { GatewayOutcome } from '../../src/providers/types.js';
import { AftercareFailure, type PaymentTiming, type PaymentWorkflowInput } from '../../src/shared/payment-messages.js';
import { quietTemporalRuntime } from '../support/stack.js';

/**
 * The payment workflow's timers on their own: the real workflow code (the run's bundle) with its
 * activities replaced by plain functions, so each test is about what the workflow decides and when.
 *
 * Not time-skipping: the SDK downloads its time-skipping test server on first use, and this machine
 * reaches no download host (createTimeSkipping fails with "failed to download ephemeral server
 * executable"; neither npm nor PyPI ships that server). The tests run on the run's dev server with
 * timings of a few hundred milliseconds instead, which every timer here takes as input.
 */

type Charge = Parameters<PaymentActivities['chargeGateway']>[0];
type Ask = Parameters<PaymentActivities['queryGatewayStatus']>[0];
type Outcome = Parameters<PaymentActivities['recordAttemptOutcome']>[0];
type Cancel = Parameters<PaymentActivities['cancelAtGateway']>[0];
type Confirm = Parameters<PaymentActivities['confirmCallback']>[0];

interface GatewayScript {
  /** Connections in the order the routing decision tries them. */
  route: string[];
  charge(connectionId: string): GatewayOutcome;
  /** The gateway's answer to the n-th (1-based) status poll of a connection's attempt. */
  poll?(connectionId: string, n: number): GatewayOutcome | null;
  /** The gateway's own answer when a callback claims a final status. */
  confirm?(claimed: Confirm['claimed']): GatewayOutcome | null;
}

/** Stand-ins for the payment activities, recording each call and when it came. */
function paymentActivities(script: GatewayScript) {
  const calls = {
    charges: [] as { connectionId: string; at: number }[],
    polls: [] as { connectionId: string; at: number }[],
    confirms: [] as Confirm[],
    cancels: [] as Cancel[],
    outcomes: [] as Outcome[],
  };
  const decision: RoutingDecision = {
    candidates: script.route.map((connectionId, i) => ({ connectionId, provider: 'acmepay', ruleId: 'rule-1', rank: i + 1, reason: 'test route' })),
    skipped: [],
    evaluatedRules: [],
  };
  const activities = {
    routePayment: () => Promise.resolve({ decision, status: 'processing' as const }),
    recordAttemptOutcome: (input: Outcome) => {
      calls.outcomes.push(input);
      return Promise.resolve(input.paymentStatus);
    },
    failPayment: () => Promise.resolve('failed' as const),
    chargeGateway: (input: Charge) => {
      calls.charges.push({ connectionId: input.connectionId, at: Date.now() });
      return Promise.resolve(script.charge(input.connectionId));
    },
    queryGatewayStatus: (input: Ask) => {
      calls.polls.push({ connectionId: input.connectionId, at: Date.now() });
      const n = calls.polls.filter((p) => p.connectionId === input.connectionId).length;
      return Promise.resolve(script.poll?.(input.connectionId, n) ?? null);
    },
    confirmCallback: (input: Confirm) => {
      calls.confirms.push(input);
      return Promise.resolve(script.confirm?.(input.claimed) ?? null);
    },
    cancelAtGateway: (input: Cancel) => {
      calls.cancels.push(input);
      return Promise.resolve({ status: 'canceled' as const, reference: input.reference });
    },
  };
  return { activities, calls };
}

function paymentInput(timing: Partial<PaymentTiming>): PaymentWorkflowInput {
  return {
    paymentId: `pay-${randomUUID()}`,
    tenantId: 'tenant-1',
    amount: 1000,
    currency: 'EUR',
    country: 'DE',
    paymentMethod: { type: 'card', token: 'tok_test' },
    captureMode: 'automatic',
    metadata: {},
    timing,
  };
}

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  quietTemporalRuntime();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await env?.teardown();
});

/** Runs one payment on a worker of its own until `body` is done. */
async function withPaymentWorker<T>(script: GatewayScript, body: (ctx: { taskQueue: string; calls: ReturnType<typeof paymentActivities>['calls'] }) => Promise<T>): Promise<T> {
  const taskQueue = `payment-timers-${randomUUID()}`;
  const { activities, calls } = paymentActivities(script);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities,
  });
  return worker.runUntil(body({ taskQueue, calls }));
}

function startPayment(taskQueue: string, input: PaymentWorkflowInput) {
  return env.client.workflow.start('paymentWorkflow', { taskQueue, workflowId: `payment-${input.paymentId}`, args: [input] });
}

describe('payment workflow timers (activities mocked)', () => {
  it('asks the gateway only after the callback wait runs out, and settles on the polled status', async () => {
    const callbackTimeoutMs = 600;
    const script: GatewayScript = {
      route: ['conn-a'],
      charge: () => ({ status: 'pending', reference: 'ref-a' }),
      poll: (_c, n) => (n === 1 ? { status: 'pending', reference: 'ref-a' } : { status: 'succeeded', reference: 'ref-a', amountCaptured: 1000 }),
    };
    await withPaymentWorker(script, async ({ taskQueue, calls }) => {
      const handle = await startPayment(taskQueue, paymentInput({ callbackTimeoutMs, maxStatusPolls: 3 }));
      const result = await handle.result();

      expect(result).toMatchObject({ status: 'succeeded', attempts: 1, connectionId: 'conn-a', reference: 'ref-a' });
      expect(calls.polls).toHaveLength(2);
      // Each poll waited out a callback timeout first: none came sooner than the wait after the charge.
      expect(calls.polls[0]!.at - calls.charges[0]!.at).toBeGreaterThanOrEqual(callbackTimeoutMs);
      expect(calls.polls[1]!.at - calls.polls[0]!.at).toBeGreaterThanOrEqual(callbackTimeoutMs);
      expect(calls.outcomes.at(-1)).toMatchObject({ attemptStatus: 'succeeded', paymentStatus: 'succeeded', amountCaptured: 1000 });
    });
  });

  it('takes a callback that arrives within the wait instead of polling, with the status the gateway confirms', async () => {
    const script: GatewayScript = {
      route: ['conn-a'],
      charge: () => ({ status: 'pending', reference: 'ref-a' }),
      confirm: () => ({ status: 'authorized', reference: 'ref-a' }),
    };
    await withPaymentWorker(script, async ({ taskQueue, calls }) => {
      // Long enough that a poll would mean the callback was missed.
      const handle = await startPayment(taskQueue, paymentInput({ callbackTimeoutMs: 60_000 }));
      await waitFor(() => calls.outcomes.length > 0);
      await handle.signal('gatewayCallback', { eventId: 'evt-1', connectionId: 'conn-a', reference: 'ref-a', status: 'succeeded' });
      const result = await handle.result();

      // The callback claimed succeeded; the gateway, asked once, says authorized, and that is what counts.
      expect(result).toMatchObject({ status: 'authorized', attempts: 1 });
      expect(calls.confirms).toEqual([expect.objectContaining({ connectionId: 'conn-a', claimed: 'succeeded' })]);
      expect(calls.polls).toHaveLength(0);
    });
  });

  it('after the bounded polls cancels the stuck attempt and falls back to the next gateway', async () => {
    const script: GatewayScript = {
      route: ['conn-stuck', 'conn-b'],
      charge: (c) => (c === 'conn-stuck' ? { status: 'pending', reference: 'ref-stuck' } : { status: 'succeeded', reference: 'ref-b', amountCaptured: 1000 }),
      poll: (c) => ({ status: 'pending', reference: c === 'conn-stuck' ? 'ref-stuck' : 'ref-b' }),
    };
    await withPaymentWorker(script, async ({ taskQueue, calls }) => {
      const input = paymentInput({ callbackTimeoutMs: 200, maxStatusPolls: 2 });
      const result = await (await startPayment(taskQueue, input)).result();

      expect(result).toMatchObject({ status: 'succeeded', attempts: 2, connectionId: 'conn-b', reference: 'ref-b' });
      expect(calls.polls.filter((p) => p.connectionId === 'conn-stuck')).toHaveLength(2);
      expect(calls.cancels).toEqual([expect.objectContaining({ connectionId: 'conn-stuck', reference: 'ref-stuck', idempotencyKey: `${input.paymentId}-1-cancel` })]);
      expect(calls.outcomes.find((o) => o.connectionId === 'conn-stuck' && o.attemptStatus === 'failed')).toMatchObject({ errorCode: 'gateway_timeout', paymentStatus: 'processing' });
      expect(calls.charges.map((c) => c.connectionId)).toEqual(['conn-stuck', 'conn-b']);
    });
  });

  it('keeps a captured payment open for the aftercare window, then closes and takes no more updates', async () => {
    // Long enough that the checks on the open run finish inside it on a loaded machine.
    const aftercareWindowMs = 5_000;
    const script: GatewayScript = { route: ['conn-a'], charge: () => ({ status: 'succeeded', reference: 'ref-a', amountCaptured: 1000 }) };
    await withPaymentWorker(script, async ({ taskQueue, calls }) => {
      const handle = await startPayment(taskQueue, paymentInput({ aftercareWindowMs }));
      // The outcome update answers once the charge is done, while the run stays open.
      const progress = await handle.executeUpdate('paymentOutcome');
      expect(progress).toMatchObject({ status: 'succeeded', reference: 'ref-a' });
      expect((await handle.describe()).status.name).toBe('RUNNING');
      // A refund over the captured amount is refused by the open run, naming the amount.
      const tooMuch = await handle.executeUpdate('refundPayment', { args: [{ refundId: 'r-1', amount: 5000 }] }).catch((e: unknown) => e);
      expect(tooMuch).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((tooMuch as WorkflowUpdateFailedError).cause).toMatchObject({ type: AftercareFailure.Refused });

      const result = await handle.result();
      const closedAt = Date.now();
      expect(result).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(closedAt - calls.charges[0]!.at).toBeGreaterThanOrEqual(aftercareWindowMs);
      const late = await handle.executeUpdate('refundPayment', { args: [{ refundId: 'r-2', amount: 100 }] }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(Error);
    });
  });

  it('closes at the outcome when the aftercare window is 0', async () => {
    const script: GatewayScript = { route: ['conn-a'], charge: () => ({ status: 'succeeded', reference: 'ref-a', amountCaptured: 1000 }) };
    await withPaymentWorker(script, async ({ taskQueue }) => {
      const handle = await startPayment(taskQueue, paymentInput({ aftercareWindowMs: 0 }));
      expect(await handle.result()).toMatchObject({ status: 'succeeded' });
      const closed = await handle.executeUpdate('refundPayment', { args: [{ refundId: 'r-1', amount: 100 }] }).catch((e: unknown) => e);
      expect(closed).toBeInstanceOf(Error);
    });
  });

  it('continues an aftercare run as new when its history grows, keeping its state and its closing time', async () => {
    const aftercareWindowMs = 20_000;
    const script: GatewayScript = { route: ['conn-a'], charge: () => ({ status: 'succeeded', reference: 'ref-a', amountCaptured: 1000 }) };
    await withPaymentWorker(script, async ({ taskQueue, calls }) => {
      const input = paymentInput({ aftercareWindowMs, aftercareHistoryLimit: 40 });
      const handle = await startPayment(taskQueue, input);
      await handle.executeUpdate('paymentOutcome');
      const firstRun = handle.firstExecutionRunId;

      // Each signal adds events to the open run's history; well-formed callbacks after the outcome are kept and ignored.
      const runs = new Set([firstRun]);
      for (let i = 0; runs.size < 3 && i < 200; i++) {
        await handle.signal('gatewayCallback', { eventId: `evt-${i}`, connectionId: 'conn-a', reference: 'ref-a', status: 'succeeded' });
        runs.add((await handle.describe()).runId);
      }
      expect(runs.size).toBe(3);

      // Every continued run carries the payment's state and the one deadline set at the outcome.
      const continued = [...runs].slice(1);
      const states = await Promise.all(continued.map((runId) => aftercareStateOf(handle.workflowId, runId)));
      for (const state of states) {
        expect(state).toMatchObject({ status: 'succeeded', attempts: 1, amountCaptured: 1000, reference: 'ref-a', connectionId: 'conn-a' });
        expect(state.closesAt).toBe(states[0]!.closesAt);
      }
      expect(states[0]!.closesAt - calls.charges[0]!.at).toBeGreaterThanOrEqual(aftercareWindowMs);
      expect(states[0]!.closesAt - calls.charges[0]!.at).toBeLessThan(aftercareWindowMs + 10_000);

      // The last run still takes aftercare updates: it is the same payment, refundable up to what was captured.
      const refused = await handle.executeUpdate('refundPayment', { args: [{ refundId: 'r-1', amount: 1001 }] }).catch((e: unknown) => e);
      expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: AftercareFailure.Refused });
      await handle.terminate('test done');
    });
  });
});

/** The aftercare state a continued run started with (its input's `aftercare`). */
async function aftercareStateOf(workflowId: string, runId: string) {
  const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const started = defaultPayloadConverter.fromPayload<PaymentWorkflowInput>(payload!);
  return started.aftercare!;
}

/** Polls a condition every 20 ms, for up to 10 s. */
async function waitFor(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check(); ) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
