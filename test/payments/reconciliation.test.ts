import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconciliationInput } from '../../src/shared/payment-messages.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { unreachableTemporalClient } from '../support/temporal-down.js';
import { ensureReconciliationSchedule } from '../../src/temporal/payments/reconciliation-schedule.js';
import type { ReconciliationResult } from '../../src/workflows/payments/reconciliation.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  // A short resolution window, so a payment can be left `unknown` within a test.
  f = await startPaymentsFixture({ paymentTiming: { callbackTimeoutMs: 1_500, maxStatusPolls: 2, ambiguousResolutionMs: 3_000 } });
});
afterAll(async () => f?.close());

const pendingThenAcme = (c: MerchantSetup) => [{ name: 'async first', priority: 1, connectionIds: [c.pendingId, c.acmeId] }];
const acmeOnly = (c: MerchantSetup) => [{ name: 'acme', priority: 1, connectionIds: [c.acmeId] }];

/** One reconciliation run over one tenant's payments (what the Schedule does for all of them). */
function reconcile(m: MerchantSetup, extra: ReconciliationInput = {}, workflowId = `reconcile-${randomUUID()}`): Promise<ReconciliationResult> {
  const args: [ReconciliationInput] = [{ olderThanMs: 0, tenantId: m.tenantId, ...extra }];
  return f.stack.temporal.workflow.execute('reconciliationWorkflow', { taskQueue: f.stack.taskQueues.payments, workflowId, args });
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('reconciliation', () => {
  it('an abandoned attempt that went through while the payment was paid elsewhere is refunded and shown as reversed', async () => {
    const m = await setUpMerchant(f, pendingThenAcme);
    f.pending.setCallback(undefined);
    const { id } = await startPayment(f, m, { amount: 1800, paymentMethod: { type: 'card', token: 'tok_success' } });
    await until('the pending attempt', async () => {
      const res = await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200);
      return Boolean(res.body.attempts[0]?.gatewayReference);
    });
    // PendingPay goes dark: polls and the cancel fail, the attempt is abandoned, AcmePay takes the payment.
    f.pending.setHealthy(false);
    let paid;
    try {
      paid = await waitForPayment(f, m, id, ['succeeded', 'failed'], 90_000);
    } finally {
      f.pending.setHealthy(true);
    }
    expect(paid.status).toBe('succeeded');
    expect(paid.attempts[0]).toMatchObject({ connectionId: m.pendingId, status: 'failed', errorCode: 'gateway_timeout' });
    const txn = f.pending.txns().find((t) => t.merchant_ref === `${id}-1`);
    expect(txn?.status).toBe('settled'); // charged twice: once at each gateway
    expect(f.acme.chargeCount(`${id}-2`)).toBe(1);

    const runId = `reconcile-${randomUUID()}`;
    const run = await reconcile(m, {}, runId);
    recordHistoryIfAsked(runId, 'reconciliation-reversed-attempt');
    expect(run.reversed).toEqual([{ paymentId: id, attempt: 1, how: 'refunded', reason: expect.stringContaining('paid by another attempt') }]);
    expect(f.pending.txns().find((t) => t.merchant_ref === `${id}-1`)?.refunded_amount).toBe(1800);
    const after = (await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200)).body;
    expect(after.status).toBe('succeeded');
    expect(after.attempts[0]).toMatchObject({ status: 'reversed', errorCode: 'reversed_refund', errorMessage: expect.stringContaining('1800 refunded') });

    // Once reversed, never again.
    expect((await reconcile(m)).checked).toBe(0);
    expect(f.pending.txns().find((t) => t.merchant_ref === `${id}-1`)?.refunded_amount).toBe(1800);
  }, 150_000);

  it('a payment still unknown after the resolution window is resolved once the gateway answers again, charged once', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    f.acme.freezeAfterNext(15_000, { path: '/v1/payments' });
    const { id, workflowId } = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'tok_success' } });
    await f.stack.temporal.workflow.getHandle(workflowId).result();
    const left = (await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200)).body;
    expect(left.status).toBe('unknown');
    // Gateway back: reconciliation asks again.
    await until('the gateway to thaw', async () => ((await fetch(`${f.acme.url}/_emulator/state`).then((r) => r.json())) as { frozenForMs: number }).frozenForMs === 0, 60_000);
    const run = await reconcile(m);
    expect(run.resolved).toBe(1);
    const p = await waitForPayment(f, m, id, ['succeeded']);
    expect(p.attempts[0]).toMatchObject({ status: 'succeeded', errorClass: 'ambiguous', errorCode: 'resolved_by_reconciliation' });
    expect(f.acme.chargeCount(`${id}-1`)).toBe(1);
  }, 120_000);

  it('starts the workflow of every payment and refund row whose start failed while Temporal was down', async () => {
    const m = await setUpMerchant(f, acmeOnly);
    const { id: paidId } = await startPayment(f, m, { amount: 3000, paymentMethod: { type: 'card', token: 'tok_success' } });
    expect((await waitForPayment(f, m, paidId)).status).toBe('succeeded');
    const dead = unreachableTemporalClient();
    const downApp = f.stack.makeApp({ temporal: dead });
    try {
      // Both rows are committed, both starts fail, and the clients never retry. The answer is a 503
      // naming Temporal within seconds (the SDK's default retries would hold it about 20 s).
      const askedAt = Date.now();
      const pay = await request(downApp).post('/v1/payments').set(m.auth).set('Idempotency-Key', randomUUID()).send(paymentBody({ paymentMethod: { type: 'card', token: 'tok_success' } }));
      expect(pay.status).toBe(503);
      expect(JSON.stringify(pay.body)).toContain('Temporal');
      expect(Date.now() - askedAt).toBeLessThan(10_000);
      const refund = await request(downApp).post(`/v1/payments/${paidId}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({ amount: 1000 });
      expect(refund.status).toBe(503);
    } finally {
      await dead.connection.close();
    }
    const list = (await request(f.stack.app).get('/v1/payments?status=pending').set(m.auth).expect(200)).body.data as { id: string }[];
    expect(list).toHaveLength(1);
    const orphanId = list[0]!.id;

    const run = await reconcile(m, { orphanAfterMs: 0 });
    expect(run.orphansStarted).toHaveLength(2);
    expect((await waitForPayment(f, m, orphanId)).status).toBe('succeeded');
    expect(f.acme.chargeCount(`${orphanId}-1`)).toBe(1);
    const refunded = await waitForPayment(f, m, paidId, ['partially_refunded']);
    expect(refunded.refunds).toMatchObject([{ amount: 1000, status: 'succeeded' }]);
    // A second sweep starts nothing again.
    expect((await reconcile(m, { orphanAfterMs: 0 })).orphansStarted).toEqual([]);
  }, 180_000);

  it('runs on a Temporal Schedule', async () => {
    const scheduleId = await ensureReconciliationSchedule(f.stack.temporal, f.stack.taskQueues, { everySeconds: 3600, olderThanMs: 86_400_000, suffix: f.stack.queueSuffix });
    const handle = f.stack.temporal.schedule.getHandle(scheduleId);
    try {
      const described = await handle.describe();
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconciliationWorkflow', taskQueue: f.stack.taskQueues.payments });
    } finally {
      await handle.delete();
    }
  });
});
