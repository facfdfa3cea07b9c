import type { Server } from 'node:http';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/customers-fixture.js';
import { anySessionAlive, holdLock, sessionsWaitingOnLock } from '../support/locks.js';
import { startHoldingProxy } from '../support/holding-proxy.js';
import { startWorkerProcess } from '../support/processes.js';
import {
  setUpMerchant,
  startPayment,
  startPaymentsFixture,
  waitForPayment,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

/** How long the proxy holds a charge before it reaches the gateway. */
const HOLD_MS = 1_500;

let f: PaymentsFixture;
let proxy: { url: string; server: Server };
let charges = 0;

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
  await f?.close();
  proxy?.server.close();
});

describe('a worker killed in the middle of a charge', () => {
  it('is replaced, the charge is retried with the same idempotency key, and the customer is charged once', async () => {
    const m = await setUpMerchant(f);
    const child = await startWorkerProcess(f.stack, { STRIPE_API_URL: proxy.url });
    const { id, workflowId } = await startPayment(f, m);

    // Kill the worker the moment its charge is on the wire.
    for (let i = 0; i < 200 && charges === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(charges).toBe(1);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

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
    const timedOut = (history.events ?? []).some(
      (e) => e.activityTaskTimedOutEventAttributes || e.activityTaskStartedEventAttributes?.attempt === 2,
    );
    expect(timedOut).toBe(true);
  }, 90_000);
});

/** Holds a row lock on the payment's attempt rows (their updates wait on it) until the returned function is called. */
const lockAttempts = (paymentId: string) =>
  holdLock(
    f.stack.database.db,
    sql`select 1 from payment_attempts where payment_id = ${paymentId} for update`,
  );

describe("a worker killed inside the outcome's local activity (lean path)", () => {
  it('is replaced, the activity runs again, and the circuit breaker counts the call once', async () => {
    await f.stack.stopWorker();
    const m = await setUpMerchant(f);
    const child = await startWorkerProcess(f.stack, { STRIPE_API_URL: proxy.url });
    const before = charges;
    const { id, workflowId } = await startPayment(f, m);

    // The attempt row is written before the charge is sent; the proxy holds the charge, so the outcome
    // has not been recorded yet: lock the row, and the outcome's update of it waits.
    await eventually('the attempt row', async () =>
      (
        (await f.stack.database.db.execute(
          sql`select 1 from payment_attempts where payment_id = ${id}`,
        )) as unknown[]
      ).length > 0
        ? true
        : undefined,
    );
    const releaseLock = await lockAttempts(id);
    // The row is written just before the charge is sent: wait for the charge (the proxy holds it).
    await eventually('the charge on the wire', () => (charges === before + 1 ? true : undefined));
    // The circuit outcome is written first (its own statement), then the attempt: kill the worker there.
    const killed = await eventually('the outcome waiting on the attempt row', async () => {
      const pids = await sessionsWaitingOnLock(f.stack.database.db, 'update "payment_attempts"%');
      return pids.length > 0 ? pids : undefined;
    });
    const outcomes = async () =>
      (
        (await f.stack.database.db.execute(
          sql`select count(*)::int as n, bool_and(ok) as ok from connection_outcomes where connection_id = ${m.stripeId}`,
        )) as unknown as { n: number; ok: boolean }[]
      )[0]!;
    await eventually('the circuit outcome recorded before the attempt update', async () =>
      (await outcomes()).n === 1 ? true : undefined,
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    releaseLock();
    await eventually('the killed sessions to end', async () =>
      (await anySessionAlive(f.stack.database.db, killed)) ? undefined : true,
    );

    await f.stack.startWorker();
    const p = await waitForPayment(f, m, id, undefined, 60_000);
    expect(p.status).toBe('succeeded');
    expect(p.attempts).toHaveLength(1);
    expect(f.stripe.chargeCount(id)).toBe(1);
    // The re-run recorded the same call (same call key): still one outcome on the circuit.
    expect(await outcomes()).toEqual({ n: 1, ok: true });
    // The killed workflow task timed out and a new worker ran the local activity again.
    const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    expect(
      (history.events ?? []).some(
        (e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes,
      ),
    ).toBe(true);
  }, 120_000);
});
