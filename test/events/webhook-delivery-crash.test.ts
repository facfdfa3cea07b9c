import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/customers-fixture.js';
import { createEndpoint, emit, endpointDeliveries, type EventsTenant } from '../support/events-fixture.js';
import { startWorkerProcess } from '../support/processes.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { sequencesByResource, WebhookReceiver } from '../support/webhook-receiver.js';

/** How long the receiver is down (connections refused) before it comes back. */
const DOWN_MS = 30_000;
/**
 * The worker's webhook settings: a 2 s cap per attempt, retries from 0.5 s to at most 4 s apart (so
 * the test waits seconds, not the minutes a doubling schedule reaches after an outage); never
 * disabled within the test.
 */
const WORKER_ENV = {
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_RETRY_FIRST_DELAY_SECONDS: '0.5',
  WEBHOOK_RETRY_MAX_DELAY_SECONDS: '4',
  WEBHOOK_RETRY_HOURS: '1',
  WEBHOOK_DISABLE_AFTER_HOURS: '1',
};
const RESOURCES = ['pay_k1', 'pay_k2', 'pay_k3', 'pay_k4', 'pay_k5'];

let stack: TestStack;
const r = new WebhookReceiver();

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false }); // the workers are processes of their own
  await r.up();
});
afterAll(async () => {
  await r.down();
  await stack?.close();
});

async function emitRound(t: EventsTenant, round: number): Promise<string[]> {
  const ids: string[] = [];
  for (const id of RESOURCES) ids.push((await emit(stack, t.id, 'payment.succeeded', { type: 'payment', id }, { round })).id);
  return ids;
}

async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
}

describe('webhook delivery through an outage, a flaky receiver and a worker killed mid-delivery', () => {
  it('delivers every event at least once, in order per resource, every one verifiably signed', async () => {
    const t: EventsTenant = await stack.createTenant('Webhook crash tenant');
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['payment.*'] });
    let worker = await startWorkerProcess(stack, WORKER_ENV);

    // The receiver is down: every attempt is refused.
    await r.down();
    const emitted: string[] = [];
    for (let round = 0; round < 4; round++) emitted.push(...(await emitRound(t, round)));
    await eventually(
      'refused attempts recorded',
      async () => ((await endpointDeliveries(stack, t, ep.id)).some((d) => d.attempts.length >= 2) ? true : undefined),
      30_000,
    );
    await new Promise((res) => setTimeout(res, DOWN_MS));

    // Back, but flaky: every other request answered 500, every seventh slower than the worker's cap,
    // and the third held until the worker is killed with it in flight.
    let n = 0;
    let held = false;
    r.behaviour = () => {
      n += 1;
      if (n === 3) {
        held = true;
        return { status: 200, delayMs: 1_500 };
      }
      if (n % 7 === 0) return { status: 200, delayMs: 3_000 };
      return n % 2 === 0 ? { status: 500, body: 'flaky' } : { status: 200 };
    };
    const upAt = Date.now();
    await r.up();
    await eventually('a delivery in flight', () => (held ? true : undefined), 60_000);
    await kill(worker);

    // Changes committed while no worker runs wait for the next one.
    for (let round = 4; round < 6; round++) emitted.push(...(await emitRound(t, round)));
    worker = await startWorkerProcess(stack, WORKER_ENV);

    await eventually(
      'every event accepted',
      () => (new Set(r.accepted.map((x) => x.id)).size >= emitted.length ? true : undefined),
      150_000,
    ).catch(async (err: unknown) => {
      const left = (await endpointDeliveries(stack, t, ep.id)).filter((d) => d.status !== 'delivered');
      throw new Error(`${(err as Error).message}; not delivered: ${JSON.stringify(left.map((d) => ({ status: d.status, attempts: d.attempts.map((a) => a.statusCode ?? a.error) })))}`);
    });
    const recoveredMs = Date.now() - upAt;
    await eventually(
      'every delivery settled',
      async () => ((await endpointDeliveries(stack, t, ep.id)).every((d) => d.status === 'delivered') ? true : undefined),
      30_000,
    );
    await kill(worker);

    expect(new Set(r.accepted.map((x) => x.id))).toEqual(new Set(emitted));
    expect(r.received.every((x) => x.verified)).toBe(true);
    const order = sequencesByResource(r.firstAccepted());
    for (const id of RESOURCES) expect(order.get(`payment/${id}`), id).toEqual([1, 2, 3, 4, 5, 6]);
    const deliveries = await endpointDeliveries(stack, t, ep.id);
    expect(deliveries).toHaveLength(emitted.length);
    const attempts = deliveries.flatMap((d) => d.attempts);
    expect(attempts.some((a) => a.error === 'connection failed: ECONNREFUSED')).toBe(true);
    expect(attempts.some((a) => a.statusCode === 500)).toBe(true);
    expect(attempts.some((a) => a.error?.startsWith('timeout'))).toBe(true);
    const duplicates = r.accepted.length - emitted.length;
    console.log(
      `${emitted.length} events over ${RESOURCES.length} resources: all delivered ${recoveredMs} ms after the receiver came back; ` +
        `${r.received.length} requests, ${attempts.length} recorded attempts, ${duplicates} duplicates accepted (dropped by webhook-id)`,
    );
  }, 300_000);
});
