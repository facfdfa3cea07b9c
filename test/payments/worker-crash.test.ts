import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHoldingProxy } from '../support/holding-proxy.js';
import { startWorkerProcess } from '../support/processes.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';


/** How long the proxy holds a charge before it reaches the gateway. */
const HOLD_MS = 1_500;

let f: PaymentsFixture;
let proxy: { url: string; server: Server };
let charges = 0;
let child: ChildProcess | undefined;

beforeAll(async () => {
  let stripeUrl = '';
  proxy = await startHoldingProxy({
    target: () => stripeUrl,
    holds: (req) => req.method === 'POST' && req.url === '/v1/payment_intents',
    onHeld: () => (charges += 1),
    holdMs: HOLD_MS,
  });
  f = await startPaymentsFixture({ startWorker: false, stripeUrl: proxy.url });
  stripeUrl = f.stripe.url;
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await f?.close();
  proxy?.server.close();
});


describe('a worker killed in the middle of a charge', () => {
  it('is replaced, the charge is retried with the same idempotency key, and the customer is charged once', async () => {
    const m = await setUpMerchant(f);
    child = await startWorkerProcess(f.stack, { STRIPE_API_URL: proxy.url });
    const { id, workflowId } = await startPayment(f, m);

    // Kill the worker the moment its charge is on the wire.
    for (let i = 0; i < 200 && charges === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(charges).toBe(1);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));

    // The gateway carried the charge out although nobody was there to hear the answer.
    await new Promise((r) => setTimeout(r, HOLD_MS + 300));
    expect(f.stripe.chargeCount(id)).toBe(1);

    await f.stack.startWorker();
    const p = await waitForPayment(f, m, id, undefined, 60_000);
    expect(p.status).toBe('succeeded');
    expect(p.attempts).toHaveLength(1);
    expect(f.stripe.chargeCount(id)).toBe(1);
    expect(charges).toBeGreaterThanOrEqual(2); // the retry reached the gateway and was answered from its idempotency record

    const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const timedOut = (history.events ?? []).some((e) => e.activityTaskTimedOutEventAttributes || e.activityTaskStartedEventAttributes?.attempt === 2);
    expect(timedOut).toBe(true);
  }, 90_000);
});
