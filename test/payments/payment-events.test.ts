import { createHmac, randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthActivities } from '../../src/activities/payments/health-activities.js';
import { createPaymentActivities } from '../../src/activities/payments/payment-activities.js';
import { newId } from '../../src/db/ids.js';
import { paymentAttempts, payments, refunds } from '../../src/db/schema.js';
import type { CircuitConfig } from '../../src/domain/circuit-breaker.js';
import { recordCircuitOutcome } from '../../src/stores/payments/connection-health-store.js';
import { advancePayment } from '../../src/stores/payments/payment-store.js';
import { recordRefundOutcome } from '../../src/stores/payments/refund-store.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

/**
 * Issue #19: the payments family announces every outcome as an event written in the transaction of
 * the change: one event per transition (a re-run records nothing twice), numbered per resource, with
 * the resource as the API shows it; a change that rolls back leaves no event. Checked from the
 * outside through GET /v1/events.
 */

const CIRCUIT: CircuitConfig = { windowMs: 60_000, minimumCalls: 4, failureRateThreshold: 0.5, openDurationMs: 60_000, halfOpenSuccessesToClose: 1 };

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture({ circuit: CIRCUIT, paymentTiming: { aftercareWindowMs: 10 * 60_000 } });
});
afterAll(async () => f?.close());

interface EventOut {
  id: string;
  type: string;
  sequence: number;
  resource: { type: string; id: string };
  data: Record<string, unknown>;
}

/** A resource's events, oldest first, as the API lists them. */
async function eventsOf(m: MerchantSetup, resourceId: string): Promise<EventOut[]> {
  const res = await request(f.stack.app).get('/v1/events').query({ resourceId, order: 'asc', limit: 100 }).set(m.auth).expect(200);
  expect(res.body.hasMore).toBe(false);
  return res.body.data as EventOut[];
}

const getPayment = async (m: MerchantSetup, id: string) => (await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200)).body;
const refund = (m: MerchantSetup, id: string, body: object) =>
  request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send(body);
const summary = (events: EventOut[]) => events.map((e) => [e.type, e.sequence]);

async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('payment events from real runs', () => {
  it('a card payment that succeeds has exactly one payment.succeeded, whose data is GET /v1/payments/:id', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([['payment.succeeded', 1]]);
    expect(events[0]!.resource).toEqual({ type: 'payment', id });
    expect(events[0]!.data).toEqual(await getPayment(m, id));
    // The single event is also what GET /v1/events/:id answers.
    const one = await request(f.stack.app).get(`/v1/events/${events[0]!.id}`).set(m.auth).expect(200);
    expect(one.body).toEqual(events[0]);
  });

  it('refunds: refund.succeeded for each, and the payment numbered 1, 2, 3 through partially_refunded and refunded', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { amount: 3000 });
    await waitForPayment(f, m, id, ['succeeded']);
    const first = await refund(m, id, { amount: 1000 }).expect(202);
    await waitForPayment(f, m, id, ['partially_refunded']);
    const rest = await refund(m, id, {}).expect(202);
    const done = await waitForPayment(f, m, id, ['refunded']);

    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([
      ['payment.succeeded', 1],
      ['payment.partially_refunded', 2],
      ['payment.refunded', 3],
    ]);
    expect(events.map((e) => [e.data.status, e.data.amountRefunded])).toEqual([
      ['succeeded', 0],
      ['partially_refunded', 1000],
      ['refunded', 3000],
    ]);
    expect(events[2]!.data).toEqual(done);
    for (const r of [first.body, rest.body]) {
      const refundEvents = await eventsOf(m, r.id);
      expect(summary(refundEvents)).toEqual([['refund.succeeded', 1]]);
      expect(refundEvents[0]!.resource).toEqual({ type: 'refund', id: r.id });
      // The refund as the payment lists it.
      expect(refundEvents[0]!.data).toEqual(done.refunds.find((x: { id: string }) => x.id === r.id));
      expect(refundEvents[0]!.data).toMatchObject({ status: 'succeeded', paymentId: id });
    }
  });

  it('a refund the gateway refuses has refund.failed and leaves the payment without a refund event', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { amount: 2000 });
    await waitForPayment(f, m, id, ['succeeded']);
    f.stripe.failNext({ times: 1, status: 400, pathPrefix: '/v1/refunds' });
    const r = await refund(m, id, { amount: 500 }).expect(202);
    const refundEvents = await waitUntil('refund.failed', () => eventsOf(m, r.body.id), (e) => e.length > 0);
    expect(summary(refundEvents)).toEqual([['refund.failed', 1]]);
    const payment = await getPayment(m, id);
    expect(payment.status).toBe('succeeded');
    expect(refundEvents[0]!.data).toEqual(payment.refunds[0]);
    expect(refundEvents[0]!.data).toMatchObject({ status: 'failed', failureMessage: expect.any(String) });
    expect(summary(await eventsOf(m, id))).toEqual([['payment.succeeded', 1]]);
  });

  it('manual capture: payment.authorized, then payment.captured (not a second succeeded)', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { captureMode: 'manual', amount: 4000 });
    await waitForPayment(f, m, id, ['authorized']);
    expect(summary(await eventsOf(m, id))).toEqual([['payment.authorized', 1]]);
    const captured = await request(f.stack.app).post(`/v1/payments/${id}/capture`).set(m.auth).send({}).expect(200);
    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([
      ['payment.authorized', 1],
      ['payment.captured', 2],
    ]);
    expect(events[0]!.data).toMatchObject({ status: 'authorized', amountCaptured: 0 });
    expect(events[1]!.data).toEqual(captured.body);
  });

  it('a declined payment has exactly one payment.failed with the failure', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'pm_card_chargeDeclinedInsufficientFunds' } });
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('failed');
    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([['payment.failed', 1]]);
    expect(events[0]!.data).toEqual(p);
    expect(events[0]!.data).toMatchObject({ failure: { code: 'insufficient_funds' } });
  });

  it("a bank transfer (PendingPay) has no event while it waits and payment.succeeded once the gateway's callback settles it", async () => {
    const m = await setUpMerchant(f, (c) => [{ name: 'async', priority: 1, connectionIds: [c.pendingId] }]);
    f.pending.setCallback(undefined);
    const { id } = await startPayment(f, m);
    let txn: { ref: string; status: string } | undefined;
    await waitUntil('the transfer at PendingPay', async () => (txn = f.pending.txns().find((t) => t.merchant_ref === `${id}-1`)), Boolean);
    // The attempt has reached the gateway and the run waits for the callback (10 min by default).
    await waitUntil('the attempt recorded as pending', () => getPayment(m, id), (p) => p.attempts[0]?.status === 'pending');
    expect((await getPayment(m, id)).status).toBe('processing');
    expect(await eventsOf(m, id)).toEqual([]);

    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'txn.settled', data: { txn: { ...txn, status: 'settled' } } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', f.pending.callbackSecret).update(`${timestamp}.${body}`).digest('hex');
    const headers = { 'content-type': 'application/json', 'x-pending-signature': signature, 'x-pending-timestamp': timestamp };
    await request(f.stack.app).post(`/v1/webhooks/${m.pendingId}`).set(headers).send(body).expect(200);
    // The gateway delivers it again: still one event.
    await request(f.stack.app).post(`/v1/webhooks/${m.pendingId}`).set(headers).send(body).expect(200);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([['payment.succeeded', 1]]);
    expect(events[0]!.data).toEqual(p);
    expect(events[0]!.data).toMatchObject({ connectionId: m.pendingId, attempts: [expect.objectContaining({ status: 'succeeded' })] });
  });
});

describe('each change once, or not at all', () => {
  /** A payment row as the API writes it, already processing, with its first attempt sent. */
  async function processingPayment(m: MerchantSetup, amount = 2500): Promise<string> {
    const id = newId('pay');
    const { db } = f.stack.database;
    await db.insert(payments).values({
      id,
      tenantId: m.tenantId,
      status: 'processing',
      amount,
      currency: 'EUR',
      country: 'DE',
      paymentMethodType: 'card',
      paymentMethodToken: 'pm_card_visa',
      captureMode: 'automatic',
    });
    await db.insert(paymentAttempts).values({
      id: newId('att'),
      paymentId: id,
      tenantId: m.tenantId,
      attemptNumber: 1,
      connectionId: m.acmeId,
      provider: 'acmepay',
      reason: 'rule everything',
      idempotencyKey: `${id}-1`,
    });
    return id;
  }

  it('a retried activity that finds the payment moved records no event again (also when retries race)', async () => {
    const m = await setUpMerchant(f);
    const activities = createPaymentActivities({ db: f.stack.database.db, cipher: f.stack.cipher, providers: f.stack.providers });
    const id = await processingPayment(m);
    const outcome = {
      paymentId: id,
      attempt: 1,
      attemptStatus: 'succeeded' as const,
      paymentStatus: 'succeeded' as const,
      connectionId: m.acmeId,
      reference: `acme_${randomUUID()}`,
      amountCaptured: 2500,
    };
    expect(await activities.recordAttemptOutcome(outcome)).toBe('succeeded');
    const events = await eventsOf(m, id);
    expect(summary(events)).toEqual([['payment.succeeded', 1]]);
    expect(events[0]!.data).toEqual(await getPayment(m, id));
    // Retries of the same activity, two of them racing: they find the payment moved and announce nothing.
    const statuses = await Promise.all([activities.recordAttemptOutcome(outcome), activities.recordAttemptOutcome(outcome)]);
    expect(statuses).toEqual(['succeeded', 'succeeded']);
    expect(summary(await eventsOf(m, id))).toEqual([['payment.succeeded', 1]]);
    // Two first runs racing from processing: the row lock lets one move it, and only that one announces it.
    const raced = await processingPayment(m);
    await Promise.all([1, 2].map(() => activities.recordAttemptOutcome({ ...outcome, paymentId: raced })));
    expect(summary(await eventsOf(m, raced))).toEqual([['payment.succeeded', 1]]);

    // The refund's outcome recorded twice: one refund.succeeded, one payment.partially_refunded.
    const refundId = newId('re');
    await f.stack.database.db.insert(refunds).values({ id: refundId, paymentId: id, tenantId: m.tenantId, amount: 1000 });
    const settled = { refundId, paymentId: id, status: 'succeeded' as const, reference: `acme_re_${randomUUID()}` };
    expect(await activities.recordRefundOutcome(settled)).toBe('partially_refunded');
    expect(await activities.recordRefundOutcome(settled)).toBe('partially_refunded');
    expect(summary(await eventsOf(m, refundId))).toEqual([['refund.succeeded', 1]]);
    expect(summary(await eventsOf(m, id))).toEqual([
      ['payment.succeeded', 1],
      ['payment.partially_refunded', 2],
    ]);
    // A late, contradictory outcome of the same attempt moves nothing and announces nothing.
    expect(await activities.recordAttemptOutcome({ ...outcome, attemptStatus: 'failed', paymentStatus: 'failed' })).toBe('partially_refunded');
    expect(await eventsOf(m, id)).toHaveLength(2);
  });

  it('a change whose transaction rolls back leaves neither the change nor its event', async () => {
    const m = await setUpMerchant(f);
    const id = await processingPayment(m);
    const { db } = f.stack.database;
    const failed = db.transaction(async (tx) => {
      expect(await advancePayment(tx, { paymentId: id, to: 'succeeded', changes: { amountCaptured: 2500 } })).toBe('succeeded');
      throw new Error('the surrounding change failed');
    });
    await expect(failed).rejects.toThrow('the surrounding change failed');
    expect((await getPayment(m, id)).status).toBe('processing');
    expect(await eventsOf(m, id)).toEqual([]);

    // The same for a refund's outcome: a succeeded payment, a refund settled inside a transaction that fails.
    expect(await advancePayment(db, { paymentId: id, to: 'succeeded', changes: { amountCaptured: 2500 } })).toBe('succeeded');
    const refundId = newId('re');
    await db.insert(refunds).values({ id: refundId, paymentId: id, tenantId: m.tenantId, amount: 2500 });
    const refundFailed = db.transaction(async (tx) => {
      expect(await recordRefundOutcome(tx, { refundId, paymentId: id, status: 'succeeded' })).toBe('refunded');
      throw new Error('the surrounding change failed');
    });
    await expect(refundFailed).rejects.toThrow('the surrounding change failed');
    const after = await getPayment(m, id);
    expect(after).toMatchObject({ status: 'succeeded', amountRefunded: 0, refunds: [expect.objectContaining({ id: refundId, status: 'pending' })] });
    expect(await eventsOf(m, refundId)).toEqual([]);
    // Only the committed move has its event, and it took number 1 (the rolled-back one gave its number back).
    expect(summary(await eventsOf(m, id))).toEqual([['payment.succeeded', 1]]);
    const [row] = await db.select({ status: payments.status }).from(payments).where(eq(payments.id, id));
    expect(row!.status).toBe('succeeded');
  });
});

describe('connection events', () => {
  it('connection.circuit_opened once when concurrent failures open the breaker, and again when a half-open probe fails', async () => {
    const m = await setUpMerchant(f);
    const connection = { tenantId: m.tenantId, connectionId: m.acmeId };
    const t0 = Date.now();
    // More failures than the breaker needs, recorded at once: it opens once.
    const states = await Promise.all(
      Array.from({ length: 8 }, (_, i) => recordCircuitOutcome(f.stack.database.db, { ...connection, ok: false, callKey: `k${i}` }, t0, CIRCUIT)),
    );
    expect(states).toContain('open');
    let events = await eventsOf(m, m.acmeId);
    expect(summary(events)).toEqual([['connection.circuit_opened', 1]]);
    expect(events[0]!.resource).toEqual({ type: 'connection', id: m.acmeId });
    const opened = events[0]!.data as { circuit: { window: { calls: number; failures: number } } };
    expect(opened).toMatchObject({ connectionId: m.acmeId, circuit: { state: 'open', openedAt: new Date(t0).toISOString() } });
    // The window as the opening call saw it (concurrent outcomes may have committed after it): enough failures.
    expect(opened.circuit.window.calls).toBeGreaterThanOrEqual(CIRCUIT.minimumCalls);
    expect(opened.circuit.window.failures).toBe(opened.circuit.window.calls);
    // Otherwise the connection's health as the API shows it.
    const health = (await request(f.stack.app).get(`/v1/connections/${m.acmeId}/health`).set(m.auth).expect(200)).body;
    expect(opened).toEqual({ ...health, circuit: { ...health.circuit, window: opened.circuit.window } });

    // Failures while it is open change nothing; after the open period a failed probe opens it again.
    await recordCircuitOutcome(f.stack.database.db, { ...connection, ok: false, callKey: 'while-open' }, t0 + 1_000, CIRCUIT);
    expect(await eventsOf(m, m.acmeId)).toHaveLength(1);
    const later = t0 + CIRCUIT.openDurationMs + 1_000;
    expect(await recordCircuitOutcome(f.stack.database.db, { ...connection, ok: false, callKey: 'probe' }, later, CIRCUIT)).toBe('open');
    events = await eventsOf(m, m.acmeId);
    expect(summary(events)).toEqual([
      ['connection.circuit_opened', 1],
      ['connection.circuit_opened', 2],
    ]);
    expect(events[1]!.data).toMatchObject({ circuit: { state: 'open', openedAt: new Date(later).toISOString() } });
  });

  it('connection.health_changed when a health check changes the health, not on checks that confirm it', async () => {
    const m = await setUpMerchant(f);
    const health = createHealthActivities({ db: f.stack.database.db, cipher: f.stack.cipher, providers: f.stack.providers, circuit: CIRCUIT });
    const check = () => new MockActivityEnvironment().run(() => health.checkConnectionsHealth({ targets: [{ tenantId: m.tenantId, connectionId: m.acmeId }] }));
    const seen = async () => (await eventsOf(m, m.acmeId)).map((e) => [e.type, e.sequence, e.data.health]);
    try {
      await check(); // unknown -> healthy
      await check(); // healthy again: nothing to say
      expect(await seen()).toEqual([['connection.health_changed', 1, 'healthy']]);
      f.acme.setHealthy(false);
      await check(); // one failed check is not an outage
      expect(await seen()).toHaveLength(1);
      await check(); // the second in a row is
      await check();
      expect(await seen()).toEqual([
        ['connection.health_changed', 1, 'healthy'],
        ['connection.health_changed', 2, 'unhealthy'],
      ]);
      f.acme.setHealthy(true);
      await check();
    } finally {
      f.acme.setHealthy(true);
    }
    const events = await eventsOf(m, m.acmeId);
    expect(events.map((e) => [e.type, e.sequence, e.data.health])).toEqual([
      ['connection.health_changed', 1, 'healthy'],
      ['connection.health_changed', 2, 'unhealthy'],
      ['connection.health_changed', 3, 'healthy'],
    ]);
    expect(events[1]!.data).toMatchObject({ lastCheck: { consecutiveFailures: 2 } });
    expect(events[2]!.data).toEqual((await request(f.stack.app).get(`/v1/connections/${m.acmeId}/health`).set(m.auth).expect(200)).body);
  });
});
