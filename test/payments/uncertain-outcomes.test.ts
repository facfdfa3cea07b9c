import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeys } from '../../src/db/schema.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { unreachableTemporalClient } from '../support/temporal-down.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  // Short waits so stuck gateways reach the cancel branch quickly; a resolution window long enough
  // to outlast a 25 s freeze.
  f = await startPaymentsFixture({ paymentTiming: { callbackTimeoutMs: 1_500, maxStatusPolls: 2, ambiguousResolutionMs: 120_000 } });
});
afterAll(async () => f?.close());

const acmeThenStripe = (c: MerchantSetup) => [{ name: 'acme first', priority: 1, connectionIds: [c.acmeId, c.stripeId] }];
const acmeOnly = (c: MerchantSetup) => [{ name: 'acme', priority: 1, connectionIds: [c.acmeId] }];
const pendingThenAcme = (c: MerchantSetup) => [{ name: 'async first', priority: 1, connectionIds: [c.pendingId, c.acmeId] }];

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('charges whose outcome is uncertain', () => {
  it('a gateway that records the charge and freezes for 25 s (lookups time out too) ends succeeded, charged once', async () => {
    const m = await setUpMerchant(f, acmeThenStripe);
    // The charge is processed, then AcmePay answers nothing (charge or lookups) for 25 s; its client times out after 10 s.
    f.acme.freezeAfterNext(25_000, { path: '/v1/payments' });
    const { id } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id, ['succeeded', 'failed'], 120_000);
    expect(p.status).toBe('succeeded');
    expect(p.attempts).toHaveLength(1);
    // Resolved by a lookup, and still shown as ambiguous beside its final status.
    expect(p.attempts[0]).toMatchObject({ connectionId: m.acmeId, status: 'succeeded', errorClass: 'ambiguous' });
    expect(f.acme.chargeCount(`${id}-1`)).toBe(1);
    expect(f.stripe.chargeCount(id)).toBe(0);
    await f.stack.temporal.workflow.getHandle(`payment-${id}`).result();
    recordHistoryIfAsked(`payment-${id}`, 'payment-frozen-gateway-resolved');
  }, 150_000);

  it('polling is bounded: a gateway that goes down while the charge is pending is canceled and the payment falls back', async () => {
    const m = await setUpMerchant(f, pendingThenAcme);
    f.pending.setCallback(undefined);
    const { id } = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'tok_success' } });
    // The charge was accepted as pending; now PendingPay answers 503 to everything (lookups, cancel).
    await until('the pending attempt', async () => {
      const res = await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200);
      return res.body.attempts[0]?.gatewayReference ? true : undefined;
    });
    f.pending.setHealthy(false);
    try {
      const p = await waitForPayment(f, m, id, ['succeeded', 'failed'], 90_000);
      expect(p.status).toBe('succeeded');
      expect(p.attempts.map((a: { connectionId: string; status: string; errorCode: string | null }) => [a.connectionId, a.status, a.errorCode])).toEqual([
        [m.pendingId, 'failed', 'gateway_timeout'],
        [m.acmeId, 'succeeded', null],
      ]);
      await f.stack.temporal.workflow.getHandle(`payment-${id}`).result();
      recordHistoryIfAsked(`payment-${id}`, 'payment-bounded-polls-fallback');
    } finally {
      f.pending.setHealthy(true);
    }
  }, 120_000);

  it('a payment id never starts a second run, even when a request is replayed after the run closed', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const key = randomUUID();
    const { id, workflowId } = await startPayment(f, m, {}, key);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    await f.stack.temporal.workflow.getHandle(workflowId).result();
    // As if the first answer had never been stored: the replay goes through the start path again.
    await f.stack.database.db
      .update(idempotencyKeys)
      .set({ responseStatus: null, responseBody: null })
      .where(and(eq(idempotencyKeys.tenantId, m.tenantId), eq(idempotencyKeys.key, key)));
    await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody()).expect(202);
    const runs = [];
    for await (const run of f.stack.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(run.runId);
    expect(runs).toHaveLength(1);
    expect(f.acme.chargeCount(`${id}-1`)).toBe(1);
  });
});

describe('refunds whose outcome is uncertain', () => {
  it('a refund call that times out after the gateway refunded is resolved: one refund, and no second one over the rest', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const { id } = await startPayment(f, m, { amount: 5000, paymentMethod: { type: 'card', token: 'tok_success' } });
    const paid = await waitForPayment(f, m, id);
    expect(paid.status).toBe('succeeded');
    // AcmePay refunds, then the connection drops before the answer.
    f.acme.dropNext(1, { path: `/v1/payments/${paid.gatewayReference}/refunds` });
    const refund = (amount: number) =>
      request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({ amount });
    const r1 = await refund(2000).expect(202);
    const p = await waitForPayment(f, m, id, ['partially_refunded'], 60_000);
    expect(p.refunds).toMatchObject([{ id: r1.body.id, status: 'succeeded', amount: 2000 }]);
    expect(p.amountRefunded).toBe(2000);
    const atGateway = f.acme.payments().find((x) => x.id === paid.gatewayReference);
    expect(atGateway?.refunded_amount).toBe('20.00');
    const tooMuch = await refund(3001).expect(409);
    expect(tooMuch.body.error.message).toContain('refundable amount 3000');
    await f.stack.temporal.workflow.getHandle(`refund-${r1.body.id}`).result();
    recordHistoryIfAsked(`refund-${r1.body.id}`, 'refund-ambiguous-resolved');
  }, 90_000);

  it('a refund the gateway answers as pending stays pending (amount reserved) until a poll finds it final', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const { id } = await startPayment(f, m, { amount: 3000, paymentMethod: { type: 'card', token: 'tok_success' } });
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    f.acme.setRefundDelay(4_000);
    try {
      const r = await request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({ amount: 3000 }).expect(202);
      await new Promise((done) => setTimeout(done, 1_000));
      const during = (await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200)).body;
      expect(during).toMatchObject({ status: 'succeeded', amountRefunded: 0, refunds: [{ id: r.body.id, status: 'pending' }] });
      await request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({ amount: 1 }).expect(409);
      const after = await waitForPayment(f, m, id, ['refunded'], 60_000);
      expect(after.refunds).toMatchObject([{ id: r.body.id, status: 'succeeded' }]);
    } finally {
      f.acme.setRefundDelay(0);
    }
  }, 90_000);

  it('a capture call that times out after the gateway captured is resolved: captured once, payment succeeded', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const { id } = await startPayment(f, m, { amount: 2500, captureMode: 'manual', paymentMethod: { type: 'card', token: 'tok_success' } });
    const authorized = await waitForPayment(f, m, id);
    expect(authorized.status).toBe('authorized');
    f.acme.dropNext(1, { path: `/v1/payments/${authorized.gatewayReference}/capture` });
    const captured = await request(f.stack.app).post(`/v1/payments/${id}/capture`).set(m.auth).send({}).expect(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 2500 });
    const atGateway = f.acme.payments().find((x) => x.id === authorized.gatewayReference);
    expect(atGateway).toMatchObject({ state: 'CAPTURED', captured_amount: '25.00' });
  }, 60_000);

  it('a refund whose workflow could not start (Temporal down) is started by the retried request with the same key', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const { id } = await startPayment(f, m, { amount: 4000, paymentMethod: { type: 'card', token: 'tok_success' } });
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    // The same API, but its Temporal client points at an address where nothing listens.
    const dead = unreachableTemporalClient();
    const downApp = f.stack.makeApp({ temporal: dead });
    try {
      const paymentKey = randomUUID();
      const failedStart = await request(downApp).post('/v1/payments').set(m.auth).set('Idempotency-Key', paymentKey).send(paymentBody({ paymentMethod: { type: 'card', token: 'tok_success' } }));
      expect(failedStart.status).toBe(503);
      const refundKey = randomUUID();
      const failedRefund = await request(downApp).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', refundKey).send({ amount: 1500 });
      expect(failedRefund.status).toBe(503);

      // Temporal is back: the clients retry with the same keys.
      const retriedPayment = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', paymentKey).send(paymentBody({ paymentMethod: { type: 'card', token: 'tok_success' } })).expect(202);
      expect((await waitForPayment(f, m, retriedPayment.body.id)).status).toBe('succeeded');
      const retriedRefund = await request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', refundKey).send({ amount: 1500 }).expect(202);
      const p = await waitForPayment(f, m, id, ['partially_refunded'], 60_000);
      expect(p.refunds).toMatchObject([{ id: retriedRefund.body.id, status: 'succeeded', amount: 1500 }]);
    } finally {
      await dead.connection.close();
    }
  }, 180_000);
});
