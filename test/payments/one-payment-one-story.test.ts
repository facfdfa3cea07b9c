import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refunds } from '../../src/db/schema.js';
import { AftercareFailure, refundPaymentUpdate } from '../../src/shared/payment-messages.js';
import { PaymentStatusAttr } from '../../src/shared/search-attributes.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Long enough for every test here; the runs stay open (a real deployment's window is days). */
const WINDOW_MS = 10 * 60_000;

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture({ paymentTiming: { aftercareWindowMs: WINDOW_MS } });
});
afterAll(async () => f?.close());

const handleOf = (workflowId: string) => f.stack.temporal.workflow.getHandle(workflowId);
const historyOf = async (workflowId: string): Promise<HistoryEvent[]> => (await handleOf(workflowId).fetchHistory()).events ?? [];
const updatesNamed = (events: HistoryEvent[], name: string) =>
  events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === name);
const childIds = (events: HistoryEvent[]) =>
  events.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId).filter((id): id is string => typeof id === 'string');

/** Reads the PaymentStatus search attribute until it is `expected` (it is set when a child's outcome arrives). */
async function paymentStatusAttr(workflowId: string, expected: string, timeoutMs = 20_000): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = (await handleOf(workflowId).describe()).typedSearchAttributes.get(PaymentStatusAttr);
    if (value === expected || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitForRefunded(m: MerchantSetup, id: string, amount: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const p = await waitForPayment(f, m, id, ['partially_refunded', 'refunded']);
    if (p.amountRefunded === amount || Date.now() > deadline) return expect(p.amountRefunded).toBe(amount);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const refund = (m: MerchantSetup, id: string, body: object, app = f.stack.app) =>
  request(app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send(body);

describe("captures and refunds in the payment's own run", () => {
  it('a capture and refunds run as updates and child workflows of the payment, and PaymentStatus follows them', async () => {
    const m = await setUpMerchant(f);
    const { id, workflowId } = await startPayment(f, m, { captureMode: 'manual', amount: 4000 });
    expect((await waitForPayment(f, m, id)).status).toBe('authorized');

    const captured = await request(f.stack.app).post(`/v1/payments/${id}/capture`).set(m.auth).send({}).expect(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 4000 });
    expect(await paymentStatusAttr(workflowId, 'succeeded')).toBe('succeeded');

    const partial = await refund(m, id, { amount: 1500 }).expect(202);
    await waitForPayment(f, m, id, ['partially_refunded']);
    expect(await paymentStatusAttr(workflowId, 'partially_refunded')).toBe('partially_refunded');

    const rest = await refund(m, id, {}).expect(202);
    expect(rest.body.amount).toBe(2500);
    const done = await waitForPayment(f, m, id, ['refunded']);
    expect(done.amountRefunded).toBe(4000);
    expect(await paymentStatusAttr(workflowId, 'refunded')).toBe('refunded');

    // The payment's run tells the story: one capture update, two refund updates, each with its child.
    const events = await historyOf(workflowId);
    expect(updatesNamed(events, 'capturePayment')).toHaveLength(1);
    expect(updatesNamed(events, 'refundPayment')).toHaveLength(2);
    expect(childIds(events)).toEqual([`capture-${id}-capture`, `refund-${partial.body.id}`, `refund-${rest.body.id}`]);
    // ... and the children know their parent (the Temporal UI links them).
    const child = await handleOf(`refund-${rest.body.id}`).describe();
    expect(child.parentExecution?.workflowId).toBe(workflowId);
    expect((await handleOf(workflowId).describe()).status.name).toBe('RUNNING');
  }, 90_000);

  it('a refund over the remaining amount is refused by the update itself, and through the API', async () => {
    const m = await setUpMerchant(f);
    const { id, workflowId } = await startPayment(f, m, { amount: 3000 });
    await waitForPayment(f, m, id);
    await refund(m, id, { amount: 1000 }).expect(202);
    await waitForPayment(f, m, id, ['partially_refunded']);

    // Straight to the run (as an operator could, from the CLI): the validator refuses it, no child starts.
    const before = childIds(await historyOf(workflowId));
    const sent = handleOf(workflowId).executeUpdate(refundPaymentUpdate, { args: [{ refundId: `re_${randomUUID()}`, amount: 2001 }] });
    const err = await sent.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(AftercareFailure.Refused);
    expect((cause as ApplicationFailure).message).toContain('refundable amount 2000');
    expect(childIds(await historyOf(workflowId))).toEqual(before);

    const tooMuch = await refund(m, id, { amount: 2001 }).expect(409);
    expect(tooMuch.body.error.message).toContain('refundable amount 2000');
    await refund(m, id, { amount: 2000 }).expect(202);
    expect((await waitForPayment(f, m, id, ['refunded'])).amountRefunded).toBe(3000);
  }, 60_000);

  it("the run's own check refuses through the API too, and releases the reservation, when the read model allowed more", async () => {
    const m = await setUpMerchant(f);
    const { id, workflowId } = await startPayment(f, m, { amount: 3000 });
    await waitForPayment(f, m, id);
    const first = await refund(m, id, { amount: 1000 }).expect(202);
    await waitForPayment(f, m, id, ['partially_refunded']);
    // The read model forgets the first refund (as if an operator had edited it): it now allows 3000.
    await f.stack.database.db.update(refunds).set({ status: 'failed' }).where(eq(refunds.id, first.body.id));

    const refused = await refund(m, id, { amount: 2500 }).expect(409);
    expect(refused.body.error.message).toContain('refundable amount 2000');
    const p = await waitForPayment(f, m, id, ['partially_refunded']);
    const second = p.refunds.find((r: { id: string }) => r.id !== first.body.id);
    expect(second).toMatchObject({ amount: 2500, status: 'failed' });
    expect(second.failureMessage).toContain('refundable amount 2000');
    expect(childIds(await historyOf(workflowId))).toEqual([`refund-${first.body.id}`]);
  }, 60_000);

  it('a refund sent twice with one key (concurrently) is one update, one child, one refund', async () => {
    const m = await setUpMerchant(f);
    const { id, workflowId } = await startPayment(f, m, { amount: 3000 });
    const paid = await waitForPayment(f, m, id);
    const key = randomUUID();
    const send = () => request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', key).send({ amount: 1000 });
    const [a, b] = await Promise.all([send(), send()]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).toBe(b.body.id);
    await waitForRefunded(m, id, 1000);
    const events = await historyOf(workflowId);
    expect(updatesNamed(events, 'refundPayment')).toHaveLength(1);
    expect(childIds(events)).toEqual([`refund-${a.body.id}`]);
    const atGateway = f.stripe.events().filter((e) => e.type === 'refund.created' && (e.data.object as { payment_intent?: string }).payment_intent === paid.gatewayReference);
    expect(atGateway).toHaveLength(1);
  }, 60_000);

  it('a payment whose run has closed (its window elapsed) is still refunded, by a standalone workflow', async () => {
    const m = await setUpMerchant(f);
    const shortWindow = f.stack.makeApp({ paymentTiming: { aftercareWindowMs: 1500 } });
    const res = await request(shortWindow).post('/v1/payments').set(m.auth).set('Idempotency-Key', randomUUID()).send(paymentBody({ amount: 2000 })).expect(202);
    const { id, workflowId } = res.body as { id: string; workflowId: string };
    await waitForPayment(f, m, id);
    await handleOf(workflowId).result(); // the window elapses and the run closes

    const r = await refund(m, id, { amount: 2000 }).expect(202);
    expect((await waitForPayment(f, m, id, ['refunded'])).amountRefunded).toBe(2000);
    const standalone = await handleOf(`refund-${r.body.id}`).describe();
    expect(standalone.parentExecution).toBeUndefined();
    expect(childIds(await historyOf(workflowId))).toEqual([]);
  }, 60_000);

  it('?wait answers from an update on the run (one shared update for 30 concurrent duplicates)', async () => {
    const m = await setUpMerchant(f);
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => request(f.stack.app).post('/v1/payments?wait=25').set(m.auth).set('Idempotency-Key', key).send(paymentBody())),
    );
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.map((r) => [r.status, r.body.status])).toEqual(Array.from({ length: 30 }, () => [200, 'succeeded']));
    const events = await historyOf(responses[0]!.body.workflowId);
    expect(updatesNamed(events, 'paymentOutcome')).toHaveLength(1);
    expect(f.stripe.chargeCount(responses[0]!.body.id)).toBe(1);
  }, 60_000);

  it('?wait=N is bounded by N on the client: with no worker it answers 202 with the row, and the run goes on later', async () => {
    const m = await setUpMerchant(f);
    await f.stack.stopWorker();
    try {
      const started = Date.now();
      const res = await request(f.stack.app).post('/v1/payments?wait=1').set(m.auth).set('Idempotency-Key', randomUUID()).send(paymentBody());
      expect(res.status).toBe(202);
      expect(res.body.status).toBe('pending');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await handleOf(res.body.workflowId).describe()).status.name).toBe('RUNNING');
      await f.stack.startWorker();
      expect((await waitForPayment(f, m, res.body.id)).status).toBe('succeeded');
    } finally {
      await f.stack.startWorker();
    }
  }, 60_000);

  it('a long history continues as new and keeps what the run knows', async () => {
    const m = await setUpMerchant(f);
    const app = f.stack.makeApp({ paymentTiming: { aftercareWindowMs: WINDOW_MS, aftercareHistoryLimit: 40 } });
    const res = await request(app).post('/v1/payments').set(m.auth).set('Idempotency-Key', randomUUID()).send(paymentBody({ amount: 3000 })).expect(202);
    const { id, workflowId } = res.body as { id: string; workflowId: string };
    await waitForPayment(f, m, id);
    for (let i = 1; i <= 2; i++) {
      await refund(m, id, { amount: 1000 }, app).expect(202);
      await waitForRefunded(m, id, i * 1000);
    }
    const now = await handleOf(workflowId).describe();
    expect(now.raw.workflowExecutionInfo?.firstRunId).toBeTruthy();
    expect(now.runId).not.toBe(now.raw.workflowExecutionInfo?.firstRunId);
    expect(now.status.name).toBe('RUNNING');
    // The continued run still knows how much is left.
    const err = await handleOf(workflowId)
      .executeUpdate(refundPaymentUpdate, { args: [{ refundId: `re_${randomUUID()}`, amount: 1001 }] })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).message).toContain('refundable amount 1000');
  }, 90_000);
});
