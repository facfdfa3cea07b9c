import { createHmac, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture({ paymentTiming: { callbackTimeoutMs: 1_500, maxStatusPolls: 3 } });
});
afterAll(async () => f?.close());

const pendingOnly = (c: MerchantSetup) => [{ name: 'async', priority: 1, connectionIds: [c.pendingId] }];

/** A PendingPay callback signed the way the gateway signs it. */
function signedCallback(event: object, secret = f.pending.callbackSecret) {
  const body = JSON.stringify(event);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-pending-signature': signature, 'x-pending-timestamp': timestamp } };
}

/** PendingPay's transaction for a payment's first attempt, once the charge has reached it. */
async function firstAttemptAtGateway(paymentId: string): Promise<{ ref: string; status: string }> {
  for (let i = 0; i < 100; i++) {
    const txn = f.pending.txns().find((t) => t.merchant_ref === `${paymentId}-1`);
    if (txn) return txn;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no PendingPay transaction for ${paymentId}-1 after 5 s`);
}

function post(connectionId: string, cb: ReturnType<typeof signedCallback>) {
  return request(f.stack.app).post(`/v1/webhooks/${connectionId}`).set(cb.headers).send(cb.body);
}

describe('gateway callbacks', () => {
  it('a pending payment completes when the signed callback arrives', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(`${f.baseUrl}/v1/webhooks/${m.pendingId}`);
    const { id } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    expect(p.attempts[0]).toMatchObject({ connectionId: m.pendingId, status: 'succeeded' });
    const delivered = f.pending.deliveries().filter((d) => d.url.includes(m.pendingId));
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.every((d) => d.status === 200)).toBe(true);
    await f.stack.temporal.workflow.getHandle(`payment-${id}`).result();
    recordHistoryIfAsked(`payment-${id}`, 'payment-pending-then-callback');
  });

  it('without a callback, the deadline passes and polling the gateway resolves the payment', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(undefined);
    const { id, workflowId } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const names = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(names).toContain('queryGatewayStatus');
    recordHistoryIfAsked(workflowId, 'payment-callback-timeout-polled');
  });

  it('callbacks that only repeat "pending" do not postpone the next poll', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(undefined);
    const { id } = await startPayment(f, m);
    const txn = await firstAttemptAtGateway(id);
    // The gateway settled the charge but keeps sending "pending" every 400 ms, well inside the 1.5 s
    // callback wait: the poll at the end of that wait must still happen, and find it settled.
    const stopAt = Date.now() + 5_000;
    let statusWhileSpamming = 'processing';
    while (Date.now() < stopAt && statusWhileSpamming !== 'succeeded') {
      await post(m.pendingId, signedCallback({ id: `evt_${randomUUID()}`, type: 'txn.pending', data: { txn: { ...txn, status: 'pending' } } })).expect(200);
      await new Promise((r) => setTimeout(r, 400));
      statusWhileSpamming = (await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200)).body.status;
    }
    expect(statusWhileSpamming).toBe('succeeded');
  });

  it('duplicate and out-of-order callbacks change nothing', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    f.pending.setCallback(undefined);
    const { id } = await startPayment(f, m);
    // The workflow is now waiting for a callback; find the gateway's transaction.
    const txn = await firstAttemptAtGateway(id);
    const settled = signedCallback({ id: `evt_${randomUUID()}`, type: 'txn.settled', data: { txn: { ...txn, status: 'settled' } } });
    const first = await post(m.pendingId, settled).expect(200);
    expect(first.body).toMatchObject({ received: true, duplicate: false, paymentId: id });
    const again = await post(m.pendingId, settled).expect(200);
    expect(again.body.duplicate).toBe(true);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');

    // A stale "pending" event delivered late, then a contradictory "rejected": the payment stays succeeded.
    await post(m.pendingId, signedCallback({ id: `evt_${randomUUID()}`, type: 'txn.pending', data: { txn: { ...txn, status: 'pending' } } })).expect(200);
    await post(m.pendingId, signedCallback({ id: `evt_${randomUUID()}`, type: 'txn.rejected', data: { txn: { ...txn, status: 'rejected' } } })).expect(200);
    await new Promise((r) => setTimeout(r, 300));
    const p = await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200);
    expect(p.body.status).toBe('succeeded');
    expect(p.body.attempts).toHaveLength(1);
  });

  it('a callback that arrives before the workflow waits for it is not lost', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    // Callbacks race the authorize response: the gateway calls back immediately.
    f.pending.setCallback(`${f.baseUrl}/v1/webhooks/${m.pendingId}`);
    const ids = await Promise.all(Array.from({ length: 5 }, () => startPayment(f, m)));
    for (const { id } of ids) expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
  });

  it('rejects a callback with a bad signature before reading it, and stores nothing', async () => {
    const m = await setUpMerchant(f, pendingOnly);
    const forged = signedCallback({ id: 'evt_forged', type: 'txn.settled', data: { txn: { ref: 'x', status: 'settled' } } }, 'wrong-secret');
    const res = await post(m.pendingId, forged).expect(400);
    expect(res.body.error.code).toBe('webhook_signature_invalid');
    const stale = signedCallback({ id: 'evt_stale', type: 'txn.settled', data: {} });
    stale.headers['x-pending-timestamp'] = String(Math.floor(Date.now() / 1000) - 3600);
    await post(m.pendingId, stale).expect(400);
    const again = await post(m.pendingId, signedCallback({ id: 'evt_forged', type: 'txn.settled', data: { txn: { ref: 'x', status: 'settled' } } })).expect(200);
    expect(again.body.duplicate).toBe(false);
  });
});
