import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payments } from '../../src/db/schema.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());

describe('idempotency', () => {
  it('50 concurrent requests with one key make one payment and one charge', async () => {
    const m = await setUpMerchant(f);
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody())),
    );
    expect(responses.map((r) => r.status).every((s) => s === 202)).toBe(true);
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const rows = await f.stack.database.db.select({ id: payments.id }).from(payments).where(eq(payments.tenantId, m.tenantId));
    expect(rows).toHaveLength(1);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    expect(f.stripe.chargeCount(id)).toBe(1);
  });

  it('concurrent duplicates with ?wait wait for the outcome too', async () => {
    const m = await setUpMerchant(f);
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => request(f.stack.app).post('/v1/payments?wait=25').set(m.auth).set('Idempotency-Key', key).send(paymentBody())),
    );
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.map((r) => [r.status, r.body.status])).toEqual(Array.from({ length: 10 }, () => [200, 'succeeded']));
  }, 60_000);

  it('the same key and body replays the stored response; another body is refused', async () => {
    const m = await setUpMerchant(f);
    const key = randomUUID();
    const first = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody()).expect(202);
    await waitForPayment(f, m, first.body.id);
    const replay = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody()).expect(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody({ amount: 999 })).expect(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(other.body.error.message).toContain(first.body.id);
  });

  it('answers 202 with the payment exactly as GET reads it before its run has moved it', async () => {
    const m = await setUpMerchant(f);
    await f.stack.stopWorker(); // the run is started but does not move yet
    try {
      const body = paymentBody({ description: 'Order 77', customerId: 'cus_77', metadata: { order: '77' } });
      const first = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', randomUUID()).send(body).expect(202);
      const read = await request(f.stack.app).get(`/v1/payments/${first.body.id}`).set(m.auth).expect(200);
      expect(first.body).toEqual(read.body);
      expect(first.body).toMatchObject({ status: 'pending', description: 'Order 77', metadata: { order: '77' }, amountRefunded: 0 });
    } finally {
      await f.stack.startWorker();
    }
  });

  it('keys are per tenant', async () => {
    const a = await setUpMerchant(f);
    const b = await setUpMerchant(f);
    const key = randomUUID();
    const pa = await startPayment(f, a, {}, key);
    const pb = await startPayment(f, b, {}, key);
    expect(pa.id).not.toBe(pb.id);
    await request(f.stack.app).get(`/v1/payments/${pa.id}`).set(b.auth).expect(404);
  });

  it('lists with filters and a cursor', async () => {
    const m = await setUpMerchant(f);
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await startPayment(f, m, { amount: 100 + i })).id);
    for (const id of created) await waitForPayment(f, m, id);
    const page1 = await request(f.stack.app).get('/v1/payments?limit=2').set(m.auth).expect(200);
    expect(page1.body.data.map((p: { id: string }) => p.id)).toEqual([created[2], created[1]]);
    const page2 = await request(f.stack.app).get(`/v1/payments?limit=2&cursor=${page1.body.nextCursor}`).set(m.auth).expect(200);
    expect(page2.body.data.map((p: { id: string }) => p.id)).toEqual([created[0]]);
    expect(page2.body.nextCursor).toBeNull();
    const failed = await request(f.stack.app).get('/v1/payments?status=failed').set(m.auth).expect(200);
    expect(failed.body.data).toEqual([]);
  });
});

describe('refunds and captures', () => {
  it('partial then full refund, never more than captured', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { amount: 5000 });
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    const refund = (amount?: number, key = randomUUID()) =>
      request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', key).send(amount ? { amount } : {});

    const r1 = await refund(2000).expect(202);
    expect(r1.body).toMatchObject({ amount: 2000, object: 'refund' });
    const tooMuch = await refund(3001).expect(409);
    expect(tooMuch.body.error.message).toContain('refundable amount 3000');
    await waitForPayment(f, m, id, ['partially_refunded']);
    const r2 = await refund().expect(202);
    expect(r2.body.amount).toBe(3000);
    const done = await waitForPayment(f, m, id, ['refunded']);
    expect(done.amountRefunded).toBe(5000);
    expect(done.refunds.map((r: { status: string }) => r.status)).toEqual(['succeeded', 'succeeded']);
    await refund(1).expect(409);
  });

  it('a refund retried with its key is not refunded twice', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { amount: 3000 });
    await waitForPayment(f, m, id);
    const key = randomUUID();
    const [a, b] = await Promise.all([
      request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', key).send({ amount: 1000 }),
      request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', key).send({ amount: 1000 }),
    ]);
    expect(a.body.id).toBe(b.body.id);
    const p = await waitForPayment(f, m, id, ['partially_refunded']);
    expect(p.refunds).toHaveLength(1);
    expect(p.amountRefunded).toBe(1000);
  });

  it('manual capture: authorized, then captured through the API', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { captureMode: 'manual', amount: 2500 });
    const authorized = await waitForPayment(f, m, id);
    expect(authorized.status).toBe('authorized');
    expect(authorized.amountCaptured).toBe(0);
    await request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({}).expect(409);
    const captured = await request(f.stack.app).post(`/v1/payments/${id}/capture`).set(m.auth).send({}).expect(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 2500 });
    await request(f.stack.app).post(`/v1/payments/${id}/capture`).set(m.auth).send({}).expect(409);
    if (process.env.RECORD_HISTORIES === '1') {
      for await (const run of f.stack.temporal.workflow.list({ query: `WorkflowId STARTS_WITH "capture-${id}-"` })) {
        recordHistoryIfAsked(run.workflowId, 'capture-manual');
      }
    }
  });
});
