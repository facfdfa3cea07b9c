import { eq, sql } from 'drizzle-orm';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { events } from '../../src/db/schema.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { eventually } from '../support/customers-fixture.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { createEndpoint, emit, endpointDeliveries, getEndpoint, type EventsTenant } from '../support/events-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { percentile, sequencesByResource, WebhookReceiver } from '../support/webhook-receiver.js';

/** Short retries and HTTP cap so a suite sees several attempts in seconds; endpoints are never auto-disabled here. */
const SETTINGS = { firstRetryDelayMs: 250, timeoutMs: 2_000, retryWindowMs: 5 * 60_000, disableAfterMs: 3_600_000 };

let stack: TestStack;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  stack = await startTestStack({ webhookSettings: SETTINGS });
});
afterAll(async () => {
  for (const r of receivers) await r.down();
  await stack?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = new WebhookReceiver();
  await r.up();
  receivers.push(r);
  return r;
}

async function tenant(): Promise<EventsTenant> {
  const t = await stack.createTenant();
  return { id: t.id, auth: t.auth };
}

/** Emits `perResource` payment events for each of `resources` payments, interleaved; resolves with their commit times by id. */
async function paymentStory(t: EventsTenant, resources: string[], perResource: number): Promise<Map<string, number>> {
  const types = ['payment.requires_action', 'payment.authorized', 'payment.captured', 'payment.succeeded', 'payment.refunded'] as const;
  const committed = new Map<string, number>();
  for (let i = 0; i < perResource; i++) {
    for (const id of resources) {
      const row = await emit(stack, t.id, types[i % types.length]!, { type: 'payment', id }, { id, step: i });
      committed.set(row.id, Date.now());
    }
  }
  return committed;
}

function expectInOrder(r: WebhookReceiver, resources: string[], perResource: number): void {
  const order = sequencesByResource(r.firstAccepted());
  for (const id of resources) expect(order.get(`payment/${id}`), id).toEqual(Array.from({ length: perResource }, (_, i) => i + 1));
}

describe('webhook delivery', () => {
  it("delivers each resource's events in order, signed, only the types subscribed to, and lists every attempt", async () => {
    const t = await tenant();
    const r = await receiver();
    const full = await createEndpoint(stack, t, r, { eventTypes: ['payment.*'] });
    const resources = ['pay_a', 'pay_b', 'pay_c', 'pay_d'];
    await emit(stack, t.id, 'customer.created', { type: 'customer', id: 'cust_1' }, { name: 'not subscribed' });
    const committed = await paymentStory(t, resources, 10);

    await eventually('40 events accepted', () => (r.firstAccepted().length >= 40 ? true : undefined), 60_000);
    expectInOrder(r, resources, 10);
    expect(r.received.every((x) => x.verified)).toBe(true);
    expect(r.received.some((x) => x.body.type === 'customer.created')).toBe(false);

    const first = r.firstAccepted()[0]!;
    const [row] = await stack.database.db.select().from(events).where(eq(events.id, first.id));
    expect(first.body).toEqual({
      id: row!.id,
      type: row!.type,
      created_at: row!.createdAt.toISOString(),
      sequence: row!.sequence,
      resource: { type: 'payment', id: row!.resourceId },
      data: row!.data,
    });
    expect(Math.abs(first.timestamp * 1000 - first.receivedAt)).toBeLessThan(5_000);

    const latencies = r.firstAccepted().map((x) => x.receivedAt - committed.get(x.id)!);
    console.log(
      `commit -> delivery over ${latencies.length} events (4 resources, one endpoint): p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${Math.max(...latencies)} ms`,
    );

    const stages = rowsOf<{ fan_out_ms: number; first_attempt_ms: number }>(
      await stack.database.db.execute(sql`
        select extract(epoch from d.created_at - e.created_at) * 1000 as fan_out_ms,
               extract(epoch from (select min(a.attempted_at) from webhook_delivery_attempts a where a.delivery_id = d.id) - e.created_at) * 1000 as first_attempt_ms
        from webhook_deliveries d join events e on e.id = d.event_id where d.endpoint_id = ${full.id}`),
    );
    console.log(
      `event -> delivery row p50 ${percentile(stages.map((x) => Number(x.fan_out_ms)), 50).toFixed(0)} ms; event -> first attempt p50 ${percentile(stages.map((x) => Number(x.first_attempt_ms)), 50).toFixed(0)} ms`,
    );

    const deliveries = await endpointDeliveries(stack, t, full.id);
    expect(deliveries).toHaveLength(40);
    for (const d of deliveries) {
      expect(d.status).toBe('delivered');
      expect(d.attempts).toHaveLength(d.attemptCount);
      expect(d.attempts.at(-1)).toMatchObject({ statusCode: 200, error: null, responseHead: 'answered 200' });
      expect(d.attempts.at(-1)!.durationMs).toBeGreaterThanOrEqual(0);
    }
    // Paged: two pages of 25 and 15, no repeat.
    const one = await request(stack.app).get(`/v1/webhook-endpoints/${full.id}/deliveries?limit=25`).set(t.auth).expect(200);
    const two = await request(stack.app).get(`/v1/webhook-endpoints/${full.id}/deliveries?limit=25&cursor=${one.body.nextCursor}`).set(t.auth).expect(200);
    expect(two.body.nextCursor).toBeNull();
    expect(new Set([...one.body.data, ...two.body.data].map((d: { id: string }) => d.id)).size).toBe(40);

    // The run is findable in the Temporal UI by endpoint and event type.
    const handle = stack.temporal.workflow.getHandle(workflowId.webhookDelivery(full.id, 'payment', 'pay_a'));
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ TenantId: [t.id], EndpointId: [full.id] });
  });

  it('sends thin endpoints the reference without the data', async () => {
    const t = await tenant();
    const r = await receiver();
    await createEndpoint(stack, t, r, { eventTypes: ['refund.succeeded'], payloadStyle: 'thin' });
    const row = await emit(stack, t.id, 'refund.succeeded', { type: 'refund', id: 're_1' }, { amount: 500 });
    await eventually('the refund event', () => r.firstAccepted()[0]);
    expect(r.firstAccepted()[0]!.body).toEqual({
      id: row.id,
      type: 'refund.succeeded',
      created_at: row.createdAt.toISOString(),
      sequence: 1,
      resource: { type: 'refund', id: 're_1' },
    });
  });

  it('retries while the receiver refuses connections and delivers everything in order once it is back', async () => {
    const t = await tenant();
    const r = await receiver();
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['*'] });
    await r.down();
    await paymentStory(t, ['pay_down'], 3);
    await eventually(
      'two refused attempts recorded',
      async () => {
        const [d] = (await endpointDeliveries(stack, t, ep.id)).filter((x) => x.attempts.length >= 2);
        return d;
      },
      20_000,
    );
    const failing = await getEndpoint(stack, t, ep.id);
    expect(failing.failingSince).not.toBeNull();
    const refused = (await endpointDeliveries(stack, t, ep.id)).flatMap((d) => d.attempts);
    expect(refused.every((a) => a.statusCode === null && a.error === 'connection failed: ECONNREFUSED')).toBe(true);

    await r.up();
    await eventually('3 events accepted', () => (r.firstAccepted().length >= 3 ? true : undefined), 30_000);
    expectInOrder(r, ['pay_down'], 3);
    await eventually('the failing clock cleared', async () => ((await getEndpoint(stack, t, ep.id)).failingSince === null ? true : undefined));
  });

  it('delivers everything, in order, to a receiver that answers 500 to every other request', async () => {
    const t = await tenant();
    const r = await receiver();
    r.behaviour = (_req, n) => (n % 2 === 0 ? { status: 500, body: 'database is down' } : { status: 200 });
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['payment.*'] });
    const resources = ['pay_h1', 'pay_h2', 'pay_h3'];
    await paymentStory(t, resources, 4);
    await eventually('12 events accepted', () => (r.firstAccepted().length >= 12 ? true : undefined), 60_000);
    expectInOrder(r, resources, 4);
    expect(r.received.filter((x) => x.status === 500).length).toBeGreaterThanOrEqual(6);
    await eventually('every delivery settled', async () =>
      (await endpointDeliveries(stack, t, ep.id)).every((d) => d.status === 'delivered') ? true : undefined,
    );
    const attempts = (await endpointDeliveries(stack, t, ep.id)).flatMap((d) => d.attempts);
    expect(attempts.filter((a) => a.statusCode === 500).every((a) => a.responseHead === 'database is down')).toBe(true);
    recordHistoryIfAsked(workflowId.webhookDelivery(ep.id, 'payment', 'pay_h1'), 'webhook-delivery-retried-in-order');
  });

  it('gives up on an answer slower than the time cap, records a timeout and tries again', async () => {
    const t = await tenant();
    const r = await receiver();
    const slowOnce = new Set<string>();
    r.behaviour = (req) => {
      if (slowOnce.has(req.id)) return { status: 200 };
      slowOnce.add(req.id);
      return { status: 200, delayMs: SETTINGS.timeoutMs + 2_000 }; // past the cap
    };
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['payment.*'] });
    await paymentStory(t, ['pay_slow'], 2);
    await eventually('both delivered', async () =>
      (await endpointDeliveries(stack, t, ep.id)).every((d) => d.status === 'delivered') && r.firstAccepted().length === 2 ? true : undefined,
    30_000);
    expectInOrder(r, ['pay_slow'], 2);
    const deliveries = await endpointDeliveries(stack, t, ep.id);
    for (const d of deliveries) {
      expect(d.attempts[0]).toMatchObject({ statusCode: null, error: `timeout: no answer within ${SETTINGS.timeoutMs} ms` });
      expect(d.attempts[0]!.durationMs).toBeGreaterThanOrEqual(SETTINGS.timeoutMs - 50);
      expect(d.attempts[0]!.durationMs).toBeLessThan(SETTINGS.timeoutMs + 1_000);
      expect(d.attempts.at(-1)).toMatchObject({ statusCode: 200 });
    }
  });

  it('a hanging endpoint does not hold back another endpoint of the same tenant', async () => {
    const t = await tenant();
    const hanging = await receiver();
    hanging.behaviour = () => ({ status: 200, delayMs: SETTINGS.timeoutMs * 4 });
    const fast = await receiver();
    await createEndpoint(stack, t, hanging, { eventTypes: ['payment.*'] });
    await createEndpoint(stack, t, fast, { eventTypes: ['payment.*'] });
    await paymentStory(t, ['pay_i1', 'pay_i2'], 3);
    await eventually('the fast endpoint has all 6', () => (fast.firstAccepted().length >= 6 ? true : undefined), 20_000);
    // All six arrived before the hanging endpoint's first attempt even timed out.
    const lastFast = Math.max(...fast.firstAccepted().map((x) => x.receivedAt));
    const firstHanging = Math.min(...hanging.received.map((x) => x.receivedAt));
    expect(lastFast).toBeLessThan(firstHanging + SETTINGS.timeoutMs);
    // The hanging endpoint is still on each resource's first event, retrying it behind its time cap.
    expect(new Set(hanging.received.map((x) => x.id)).size).toBe(2);
  });

  it('410 Gone disables the endpoint, cancels what it was owed, and tells the other endpoints', async () => {
    const t = await tenant();
    const gone = await receiver();
    gone.behaviour = () => ({ status: 410, body: 'this endpoint was removed' });
    const watcher = await receiver();
    const ep = await createEndpoint(stack, t, gone, { eventTypes: ['payment.*'] });
    await createEndpoint(stack, t, watcher, { eventTypes: ['webhook_endpoint.*'] });
    await paymentStory(t, ['pay_g'], 3);

    await eventually('the disabled event at the watcher', () => watcher.firstAccepted()[0], 20_000);
    expect(watcher.firstAccepted()[0]!.body).toMatchObject({
      type: 'webhook_endpoint.disabled',
      resource: { type: 'webhook_endpoint', id: ep.id },
      data: { id: ep.id, enabled: false, disabledReason: 'gone' },
    });
    expect(await getEndpoint(stack, t, ep.id)).toMatchObject({ enabled: false, disabledReason: 'gone' });
    expect(gone.received).toHaveLength(1); // not retried
    await eventually('the rest canceled', async () => {
      const statuses = (await endpointDeliveries(stack, t, ep.id)).map((d) => d.status).sort();
      return statuses.join() === 'canceled,canceled,failed' ? true : undefined;
    });
    recordHistoryIfAsked(workflowId.webhookDelivery(ep.id, 'payment', 'pay_g'), 'webhook-delivery-endpoint-gone');
    // A disabled endpoint gets nothing new, and recovery is refused until it is enabled again.
    const later = await emit(stack, t.id, 'payment.succeeded', { type: 'payment', id: 'pay_g' });
    await new Promise((res) => setTimeout(res, 1_000));
    expect(gone.received).toHaveLength(1);
    const refused = await request(stack.app).post(`/v1/events/${later.id}/redeliver`).set(t.auth).send({ endpointId: ep.id }).expect(409);
    expect(refused.body.error.message).toContain('disabled');
  });

  it('redelivers and replays with the same webhook-id, and a forged replay is detectable by its id and timestamp', async () => {
    const t = await tenant();
    const r = await receiver();
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['customer.*'] });
    const since = new Date(Date.now() - 1_000).toISOString();
    const rows: Awaited<ReturnType<typeof emit>>[] = [];
    for (const name of ['Ada', 'Ada L.', 'Ada Lovelace']) rows.push(await emit(stack, t.id, 'customer.updated', { type: 'customer', id: 'cust_r' }, { name }));
    await eventually('3 accepted', () => (r.firstAccepted().length >= 3 ? true : undefined));

    const redelivered = await request(stack.app).post(`/v1/events/${rows[1]!.id}/redeliver`).set(t.auth).send({}).expect(202);
    expect(redelivered.body.data).toMatchObject([{ endpointId: ep.id, eventId: rows[1]!.id, status: 'pending' }]);
    await eventually('the redelivery', () => (r.accepted.length >= 4 ? true : undefined));
    const copies = r.accepted.filter((x) => x.id === rows[1]!.id);
    expect(copies).toHaveLength(2);
    expect(copies[1]!.raw).toBe(copies[0]!.raw); // same body, same webhook-id: a receiver drops it
    const listed = await request(stack.app).get(`/v1/events/${rows[1]!.id}/deliveries`).set(t.auth).expect(200);
    expect(listed.body.data.map((d: { status: string }) => d.status)).toEqual(['delivered', 'delivered']);

    const replay = await request(stack.app).post(`/v1/webhook-endpoints/${ep.id}/replay`).set(t.auth).send({ since }).expect(202);
    expect(replay.body).toEqual({ replayed: 3, nextCursor: null });
    await eventually('the replay', () => (r.accepted.length >= 7 ? true : undefined));
    expect(r.accepted.slice(4).map((x) => x.body.sequence)).toEqual([1, 2, 3]);

    // A forged replay: an attacker re-sends a captured request later. The id is one the receiver has
    // seen, and once the timestamp is older than the tolerance (5 min) the signature check refuses it;
    // moving the timestamp breaks the signature.
    const captured = r.accepted[0]!;
    const headers = { 'webhook-id': captured.id, 'webhook-timestamp': String(captured.timestamp), 'webhook-signature': captured.signature };
    expect(r.verify(captured.raw, headers)).toBe(true);
    expect(r.accepted.filter((x) => x.id === captured.id).length).toBeGreaterThan(1); // dedupe by id finds it
    vi.useFakeTimers({ now: Date.now() + 10 * 60_000, toFake: ['Date'] });
    expect(() => new Webhook(ep.secret).verify(captured.raw, headers)).toThrow(/too old/);
    vi.useRealTimers();
    const moved = { ...headers, 'webhook-timestamp': String(captured.timestamp + 60) };
    expect(() => new Webhook(ep.secret).verify(captured.raw, moved)).toThrow(/signature/i);
  });

  it('signs with both secrets during a rotation grace period', async () => {
    const t = await tenant();
    const r = await receiver();
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['customer.*'] });
    const rotated = await request(stack.app).post(`/v1/webhook-endpoints/${ep.id}/rotate-secret`).set(t.auth).send({}).expect(200);
    const fresh = rotated.body.secret as string;
    await emit(stack, t.id, 'customer.created', { type: 'customer', id: 'cust_rot' });
    const got = await eventually('the event', () => r.accepted[0]);
    expect(got.signature.split(' ')).toHaveLength(2);
    const headers = { 'webhook-id': got.id, 'webhook-timestamp': String(got.timestamp), 'webhook-signature': got.signature };
    expect(() => new Webhook(ep.secret).verify(got.raw, headers)).not.toThrow();
    expect(() => new Webhook(fresh).verify(got.raw, headers)).not.toThrow();
  });

  it('answers 404 for another tenant\'s endpoint or event and 400 for a bad replay', async () => {
    const t = await tenant();
    const other = await tenant();
    const r = await receiver();
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['*'] });
    const row = await emit(stack, t.id, 'customer.created', { type: 'customer', id: 'cust_x' });
    await request(stack.app).get(`/v1/webhook-endpoints/${ep.id}/deliveries`).set(other.auth).expect(404);
    await request(stack.app).get(`/v1/events/${row.id}/deliveries`).set(other.auth).expect(404);
    await request(stack.app).post(`/v1/events/${row.id}/redeliver`).set(other.auth).send({}).expect(404);
    await request(stack.app).post(`/v1/events/${row.id}/redeliver`).set(t.auth).send({ endpointId: 'we_nope' }).expect(404);
    const bad = await request(stack.app).post(`/v1/webhook-endpoints/${ep.id}/replay`).set(t.auth).send({ since: 'yesterday' }).expect(400);
    expect(bad.body.error.details[0].path).toBe('body.since');
    const future = await request(stack.app)
      .post(`/v1/webhook-endpoints/${ep.id}/replay`)
      .set(t.auth)
      .send({ since: new Date(Date.now() + 3_600_000).toISOString() })
      .expect(400);
    expect(future.body.error.message).toContain('future');
    await request(stack.app).get(`/v1/webhook-endpoints/${ep.id}/deliveries?status=lost`).set(t.auth).expect(400);
  });
});
