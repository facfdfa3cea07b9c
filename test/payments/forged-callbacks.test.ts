import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCallbackSignal } from '../../src/shared/payment-messages.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  // A long callback wait: the workflow sits waiting for a callback, which is what a forger targets.
  f = await startPaymentsFixture({ paymentTiming: { callbackTimeoutMs: 120_000, maxStatusPolls: 1 } });
});
afterAll(async () => f?.close());

const pendingOnly = (c: MerchantSetup) => [{ name: 'async', priority: 1, connectionIds: [c.pendingId] }];

/** Waits until the gateway has the attempt and the workflow is waiting for its callback. */
async function waitingForCallback(m: MerchantSetup, id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200);
    const ref = res.body.attempts[0]?.gatewayReference as string | undefined;
    const settled = f.pending.txns().find((t) => t.ref === ref && t.status !== 'pending');
    if (ref && settled) return ref;
    if (Date.now() > deadline) throw new Error(`payment ${id} never reached the gateway`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the run has handled every signal sent so far: a workflow task completed after the last one. */
async function signalsHandled(handle: WorkflowHandle): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const lastSignal = events.map((e) => Boolean(e.workflowExecutionSignaledEventAttributes)).lastIndexOf(true);
    if (events.slice(lastSignal + 1).some((e) => e.workflowTaskCompletedEventAttributes)) return;
    if (Date.now() > deadline) throw new Error('the workflow did not handle its signals within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a gateway callback is a claim, not a fact', () => {
  it('a forged gatewayCallback signal sent straight through Temporal cannot move a payment against what the gateway says', async () => {
    const victim = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(undefined);

    // Settled at the gateway; the forger claims it failed.
    const good = await startPayment(f, victim, { paymentMethod: { type: 'card', token: 'tok_success' } });
    const goodRef = await waitingForCallback(victim, good.id);
    // Declined at the gateway; the forger claims it succeeded.
    const bad = await startPayment(f, victim, { paymentMethod: { type: 'card', token: 'tok_declined' } });
    const badRef = await waitingForCallback(victim, bad.id);

    // Everything a signal sender could know (connection id and reference are visible in the run's history).
    const forge = (workflowId: string, reference: string, status: 'failed' | 'succeeded') =>
      f.stack.temporal.workflow.getHandle(workflowId).signal(gatewayCallbackSignal, { eventId: `evt_forged_${randomUUID()}`, connectionId: victim.pendingId, reference, status });
    await forge(good.workflowId, goodRef, 'failed');
    await forge(bad.workflowId, badRef, 'succeeded');

    // Each claim is checked with the gateway, whose answer is what the payment ends with.
    const goodAfter = await waitForPayment(f, victim, good.id);
    expect(goodAfter.status).toBe('succeeded');
    const badAfter = await waitForPayment(f, victim, bad.id);
    expect(badAfter.status).toBe('failed');
    expect(badAfter.amountCaptured).toBe(0);
    const history = await f.stack.temporal.workflow.getHandle(good.workflowId).fetchHistory();
    const activities = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(activities).toContain('confirmCallback');
    recordHistoryIfAsked(good.workflowId, 'payment-forged-callback-confirmed');
  }, 90_000);

  it('a malformed signal (unknown status, missing connection) is dropped', async () => {
    const victim = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(undefined);
    const p = await startPayment(f, victim, { paymentMethod: { type: 'card', token: 'tok_success' } });
    await waitingForCallback(victim, p.id);
    const handle = f.stack.temporal.workflow.getHandle(p.workflowId);
    await handle.signal('gatewayCallback', { eventId: 'x', status: 'refunded_everything' });
    await handle.signal('gatewayCallback', { eventId: 'y', connectionId: victim.pendingId, status: 'bogus' });
    await signalsHandled(handle);
    const progress = await handle.query<{ pendingCallbacks: number }>('paymentProgress');
    expect(progress.pendingCallbacks).toBe(0);
    // A well-formed claim is still heard (and confirmed with the gateway).
    await handle.signal(gatewayCallbackSignal, { eventId: `evt_${randomUUID()}`, connectionId: victim.pendingId, status: 'succeeded' });
    expect((await waitForPayment(f, victim, p.id)).status).toBe('succeeded');
  }, 60_000);
});
