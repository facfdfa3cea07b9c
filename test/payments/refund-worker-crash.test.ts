import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHoldingProxy } from '../support/holding-proxy.js';
import { startWorkerProcess } from '../support/processes.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { EncryptionCodec } from '../../src/temporal/payload-codec.js';
import { HISTORIES_DIR } from '../support/record-history.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

/** How long the proxy holds a refund before it reaches the gateway. */
const HOLD_MS = 1_500;

let f: PaymentsFixture;
let proxy: { url: string; server: Server };
let heldRefunds = 0;

beforeAll(async () => {
  let stripeUrl = '';
  proxy = await startHoldingProxy({
    target: () => stripeUrl,
    holds: (req) => req.method === 'POST' && req.url === '/v1/refunds',
    onHeld: () => (heldRefunds += 1),
    holdMs: HOLD_MS,
  });
  // The payment's run stays open: the refund goes to it as an update and runs as its child.
  f = await startPaymentsFixture({ startWorker: false, stripeUrl: proxy.url, paymentTiming: { aftercareWindowMs: 10 * 60_000 } });
  stripeUrl = f.stripe.url;
});
afterAll(async () => {
  await f?.close();
  proxy?.server.close();
});

describe("a worker killed in the middle of a refund taken by the payment's run", () => {
  it('is replaced, the refund is retried with the same idempotency key, and the gateway refunds once', async () => {
    const m = await setUpMerchant(f, (c) => [{ name: 'stripe', priority: 10, connectionIds: [c.stripeId] }]);
    const child = await startWorkerProcess(f.stack, { STRIPE_API_URL: proxy.url });
    const { id, workflowId } = await startPayment(f, m, { amount: 4200 });
    const paid = await waitForPayment(f, m, id, undefined, 60_000);
    expect(paid.status).toBe('succeeded');

    const r = await request(f.stack.app).post(`/v1/payments/${id}/refunds`).set(m.auth).set('Idempotency-Key', randomUUID()).send({ amount: 4200 }).expect(202);

    // Kill the worker the moment its refund is on the wire.
    for (let i = 0; i < 200 && heldRefunds === 0; i++) await new Promise((res) => setTimeout(res, 50));
    expect(heldRefunds).toBe(1);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const refundsAtGateway = () => f.stripe.events().filter((e) => e.type === 'refund.created').length;
    await new Promise((res) => setTimeout(res, HOLD_MS + 300));
    expect(refundsAtGateway()).toBe(1); // carried out although nobody heard the answer

    await f.stack.startWorker();
    const p = await waitForPayment(f, m, id, ['refunded'], 60_000);
    expect(p.amountRefunded).toBe(4200);
    expect(p.refunds).toMatchObject([{ id: r.body.id, status: 'succeeded' }]);
    expect(refundsAtGateway()).toBe(1);
    expect(heldRefunds).toBeGreaterThanOrEqual(2); // the retry reached the gateway and was answered from its idempotency record

    // It happened inside the payment's run: an update, and the refund as its child.
    const events = (await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'refundPayment')).toHaveLength(1);
    expect(events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === `refund-${r.body.id}`)).toBe(true);
    const refundRun = (await f.stack.temporal.workflow.getHandle(`refund-${r.body.id}`).fetchHistory()).events ?? [];
    expect(refundRun.some((e) => e.activityTaskTimedOutEventAttributes || e.activityTaskStartedEventAttributes?.attempt === 2)).toBe(true);

    // A replayable history of the new path: the payment's run, refunded through an update, then closed.
    if (process.env.RECORD_HISTORIES === '1') {
      await f.stack.temporal.workflow.getHandle(workflowId).terminate('recorded for the replay suite');
      await recordDecodedHistory(workflowId, 'payment-refunded-through-update');
    }
  }, 120_000);
});

/**
 * The stack encrypts payloads; the replay suite has no key, so the recorded history is decoded first
 * (the other fixtures were recorded in plain JSON too).
 */
async function recordDecodedHistory(workflowId: string, name: string): Promise<void> {
  const [id, key] = f.stack.payloadCodecKeys.split(':') as [string, string];
  const codec = new EncryptionCodec([{ id, key: Buffer.from(key, 'base64') }]);
  const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  const pending: Promise<void>[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.payloads)) {
      const payloads = o.payloads as Parameters<EncryptionCodec['decode']>[0];
      pending.push(codec.decode(payloads).then((decoded) => void (o.payloads = decoded)));
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(history);
  await Promise.all(pending);
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history));
}
