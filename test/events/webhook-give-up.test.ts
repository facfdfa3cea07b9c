import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRegistry } from '../../src/metrics/worker-metrics.js';
import { eventually } from '../support/customers-fixture.js';
import { createEndpoint, emit, endpointDeliveries, getEndpoint, type EventsTenant } from '../support/events-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/*
 * When delivery stops: a delivery whose retry window ends is failed and the resource's next event
 * goes; an endpoint that fails for WEBHOOK_DISABLE_AFTER_HOURS is disabled. Both with windows of
 * seconds (the settings take fractions of an hour: 0.001 h = 3.6 s), each suite on a stack of its own.
 */

const receivers: WebhookReceiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.down();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = new WebhookReceiver();
  await r.up();
  receivers.push(r);
  return r;
}

async function disabledCount(reason: string): Promise<number> {
  const metric = await workerRegistry.getSingleMetric('switchyard_webhook_endpoints_disabled_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('a delivery whose retry window ends', () => {
  const SETTINGS = { firstRetryDelayMs: 200, timeoutMs: 2_000, retryWindowMs: 2_500, disableAfterMs: 3_600_000 };
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ webhookSettings: SETTINGS });
  });
  afterAll(async () => stack?.close());

  it('is failed, and the next event of its resource goes', async () => {
    const t: EventsTenant = await stack.createTenant();
    const r = await receiver();
    r.behaviour = (req) => (req.body.sequence === 1 ? { status: 500, body: 'cannot take this one' } : { status: 200 });
    const ep = await createEndpoint(stack, t, r, { eventTypes: ['order.*'] });
    const first = await emit(stack, t.id, 'order.created', { type: 'order', id: 'ord_1' });
    await emit(stack, t.id, 'order.created', { type: 'order', id: 'ord_1' });

    const second = await eventually('the second event', () => r.accepted.find((x) => x.body.sequence === 2), 20_000);
    const deliveries = await endpointDeliveries(stack, t, ep.id);
    const gaveUp = deliveries.find((d) => d.eventId === first.id)!;
    expect(gaveUp.status).toBe('failed');
    expect(gaveUp.attempts.length).toBeGreaterThanOrEqual(3);
    expect(gaveUp.attempts.every((a) => a.statusCode === 500)).toBe(true);
    // In order: the second went only after the first was given up.
    const lastTry = Math.max(...r.received.filter((x) => x.body.sequence === 1).map((x) => x.receivedAt));
    expect(second.receivedAt).toBeGreaterThan(lastTry);
    // Temporal gives up as soon as the next retry would land past the window (which starts after the
    // event's commit): no earlier than the window minus that next backoff.
    const nextBackoff = SETTINGS.firstRetryDelayMs * 2 ** (gaveUp.attempts.length - 1);
    expect(second.receivedAt - first.createdAt.getTime()).toBeGreaterThanOrEqual(SETTINGS.retryWindowMs - nextBackoff);
    await eventually('the failing clock cleared by the success', async () =>
      (await getEndpoint(stack, t, ep.id)).failingSince === null ? true : undefined,
    );
    expect((await getEndpoint(stack, t, ep.id)).enabled).toBe(true);
  });
});

describe('an endpoint that keeps failing', () => {
  const SETTINGS = { firstRetryDelayMs: 200, timeoutMs: 2_000, retryWindowMs: 5 * 60_000, disableAfterMs: 3_000 };
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ webhookSettings: SETTINGS });
  });
  afterAll(async () => stack?.close());

  it('is disabled after the configured time, says so with an event and a metric, and is sent nothing more', async () => {
    const t: EventsTenant = await stack.createTenant();
    const failing = await receiver();
    failing.behaviour = () => ({ status: 503, body: 'maintenance' });
    const watcher = await receiver();
    const ep = await createEndpoint(stack, t, failing, { eventTypes: ['*'] });
    await createEndpoint(stack, t, watcher, { eventTypes: ['webhook_endpoint.disabled'] });
    const before = await disabledCount('failing');

    await emit(stack, t.id, 'inventory.changed', { type: 'inventory', id: 'sku_1' });
    await emit(stack, t.id, 'inventory.changed', { type: 'inventory', id: 'sku_1' });
    await emit(stack, t.id, 'product.updated', { type: 'product', id: 'prod_1' });

    const told = await eventually('the disabled event at the watcher', () => watcher.accepted[0], 30_000);
    expect(told.body).toMatchObject({ type: 'webhook_endpoint.disabled', data: { id: ep.id, enabled: false, disabledReason: 'failing' } });
    const data = told.body.data as { disabledAt: string; failingSince: string };
    expect(Date.parse(data.disabledAt) - Date.parse(data.failingSince)).toBeGreaterThanOrEqual(SETTINGS.disableAfterMs);
    expect(await getEndpoint(stack, t, ep.id)).toMatchObject({ enabled: false, disabledReason: 'failing' });
    expect(await disabledCount('failing')).toBe(before + 1);

    await eventually('nothing left pending', async () =>
      (await endpointDeliveries(stack, t, ep.id)).every((d) => d.status !== 'pending') ? true : undefined,
    );
    const statuses = (await endpointDeliveries(stack, t, ep.id)).map((d) => d.status);
    expect(statuses.filter((s) => s === 'canceled').length).toBeGreaterThanOrEqual(1);
    const sent = failing.received.length;
    await emit(stack, t.id, 'inventory.changed', { type: 'inventory', id: 'sku_1' });
    await new Promise((res) => setTimeout(res, 1_500));
    expect(failing.received.length).toBe(sent);
    expect(watcher.accepted).toHaveLength(1); // disabled once, told once
  });
});
