import request from 'supertest';
import { signWebhookPayload } from '../../emulators/stripe/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteCustomerChangeSignal } from '../../src/shared/customer-messages.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import {
  createCustomer,
  type SyncTenant,
  eventually,
  getCustomer,
  setUpSyncTenant,
  startCustomersFixture,
  syncedRemote,
  syncOf,
  type CustomersFixture,
} from '../support/customers-fixture.js';
import { recordHistoryIfAsked } from '../support/record-history.js';


/** Delivers a Stripe event to our webhook endpoint by hand, signed as Stripe signs it. */
const deliverSigned = (endpoint: string, secret: string, event: unknown) => {
  const payload = JSON.stringify(event);
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signWebhookPayload(payload, secret) },
    body: payload,
  });
};

let f: CustomersFixture;
beforeAll(async () => {
  f = await startCustomersFixture();
});
afterAll(async () => f?.close());

/** Customer write requests (POST/DELETE) the emulator received from the platform for this account. */
const stripeWrites = (t: SyncTenant) =>
  f.stripe
    .requests()
    .filter(
      (r) =>
        r.account === t.secretKey &&
        r.method !== 'GET' &&
        r.path.startsWith('/v1/customers') &&
        r.idempotencyKey?.startsWith('cust_'),
    );
const settle = () => new Promise((r) => setTimeout(r, 1500));

describe('customer sync with Stripe', () => {
  it('creates the Stripe customer with the local id in metadata, then updates only what changed', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, {
      email: 'ada@example.com',
      name: 'Ada',
      address: { city: 'London', country: 'GB' },
    });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    const remote = await t.sdk.customers.retrieve(remoteId);
    expect(remote).toMatchObject({
      email: 'ada@example.com',
      name: 'Ada',
      address: { city: 'London', country: 'GB' },
      metadata: { switchyard_id: c.id },
    });

    await request(f.stack.app)
      .patch(`/v1/customers/${c.id}`)
      .set(t.auth)
      .send({ phone: '+44 1' })
      .expect(200);
    await syncedRemote(f, t, c.id, 2);
    expect(await t.sdk.customers.retrieve(remoteId)).toMatchObject({ phone: '+44 1', name: 'Ada' });
    const update = f.stripe
      .requests()
      .find((r) => r.method === 'POST' && r.path === `/v1/customers/${remoteId}`);
    expect(update?.idempotencyKey).toBe(`${c.id}-v2-${t.connectionId}`);
    expect(update?.params).toEqual({ phone: '+44 1' });
    recordHistoryIfAsked(`customer-${c.id}`, 'customer-sync-create-update');
  });

  it('suppresses echoes: our own writes coming back by webhook change nothing locally and call Stripe no more', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { email: 'echo@example.com', name: 'Echo' });
    await syncedRemote(f, t, c.id, 1);
    await request(f.stack.app)
      .patch(`/v1/customers/${c.id}`)
      .set(t.auth)
      .send({ name: 'Echo 2' })
      .expect(200);
    await syncedRemote(f, t, c.id, 2);
    await f.stripe.webhooksIdle();
    await settle();
    // customer.created and customer.updated came back, were delivered and acknowledged...
    const delivered = f.stripe
      .deliveries()
      .filter((d) => d.url.endsWith(t.connectionId) && d.state === 'delivered');
    expect(delivered.map((d) => d.eventType).sort()).toEqual(['customer.created', 'customer.updated']);
    // ...and changed nothing: still version 2 locally, exactly one create and one update at Stripe.
    expect((await getCustomer(f, t, c.id)).version).toBe(2);
    expect(stripeWrites(t).map((r) => r.idempotencyKey)).toEqual([
      `${c.id}-v1-${t.connectionId}`,
      `${c.id}-v2-${t.connectionId}`,
    ]);
    // Recognised by their idempotency keys, they never even reached the customer's workflow.
    const history = await f.stack.temporal.workflow.getHandle(`customer-${c.id}`).fetchHistory();
    const signals = (history.events ?? []).flatMap(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? [],
    );
    expect(signals).toContain('localCustomerChange');
    expect(signals).not.toContain('remoteCustomerChange');
  });

  it('applies 20 rapid local edits in order: Stripe ends at the last one and never goes back', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'v0' });
    for (let i = 1; i <= 20; i++) {
      await request(f.stack.app)
        .patch(`/v1/customers/${c.id}`)
        .set(t.auth)
        .send({ name: `edit ${i}` })
        .expect(200);
    }
    const remoteId = await syncedRemote(f, t, c.id, 21);
    expect((await t.sdk.customers.retrieve(remoteId)) as { name: string }).toMatchObject({ name: 'edit 20' });
    const versions = stripeWrites(t).map((r) => Number(/-v(\d+)-/.exec(r.idempotencyKey ?? '')?.[1]));
    expect(versions.length).toBeGreaterThan(1);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions.at(-1)).toBe(21);
    const ends = stripeWrites(t)
      .filter((r) => r.path === `/v1/customers/${remoteId}`)
      .map((r) => r.params?.['name']);
    expect(ends.at(-1)).toBe('edit 20');
    await f.stripe.webhooksIdle();
    await settle();
    expect((await getCustomer(f, t, c.id)).name).toBe('edit 20');
  });

  it('creates a local customer for one created at Stripe, and carries Stripe-side edits and deletes back', async () => {
    const t = await setUpSyncTenant(f);
    const remote = await t.sdk.customers.create({
      email: 'born@stripe.test',
      name: 'Born at Stripe',
      metadata: { crm: '7' },
    });
    const local = await eventually('the local twin', async () => {
      const list = await request(f.stack.app)
        .get('/v1/customers')
        .query({ email: 'born@stripe.test' })
        .set(t.auth)
        .expect(200);
      return list.body.data[0] as { id: string; name: string; metadata: Record<string, string> } | undefined;
    });
    expect(local).toMatchObject({ name: 'Born at Stripe', metadata: { crm: '7' } });
    expect(await syncedRemote(f, t, local.id)).toBe(remote.id);

    await t.sdk.customers.update(remote.id, { name: 'Renamed at Stripe' });
    await eventually('the rename', async () =>
      (await getCustomer(f, t, local.id)).name === 'Renamed at Stripe' ? true : undefined,
    );
    await t.sdk.customers.del(remote.id);
    await eventually('the deletion', async () =>
      (await getCustomer(f, t, local.id)).deleted ? true : undefined,
    );
    await settle();
    // Nothing was written back to Stripe for any of it.
    expect(stripeWrites(t)).toEqual([]);
    // Stripe is the tenant's only sync connection: each of the three changes cost the workflow one
    // local activity (applying it), no listing of targets and no push back to where it came from.
    const history = await f.stack.temporal.workflow.getHandle(`customer-${local.id}`).fetchHistory();
    const localActivities = (history.events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    expect(localActivities).toHaveLength(3);
    recordHistoryIfAsked(`customer-${local.id}`, 'customer-sync-local-steps');
  });

  it('carries a local delete to Stripe', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Short-lived' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    // The echo of the delete is held until the delete is recorded, then delivered.
    f.stripe.pauseWebhooks();
    await request(f.stack.app).delete(`/v1/customers/${c.id}`).set(t.auth).expect(200);
    await syncedRemote(f, t, c.id, 2);
    expect(await t.sdk.customers.retrieve(remoteId)).toMatchObject({ deleted: true });
    f.stripe.resumeWebhooks();
    await f.stripe.webhooksIdle();
    const echo = f.stripe.deliveries().filter((d) => d.eventType === 'customer.deleted' && d.url.includes(t.connectionId));
    expect(echo.map((d) => [d.state, d.lastStatus])).toEqual([['delivered', 200]]);
    // Each local change (the create, the delete) cost the workflow one local activity: the listing of
    // the targets and the push run in one. The echo of our delete carries no idempotency key (Stripe
    // keeps none on DELETE); the webhook knows it by the mapping and signals nothing: no apply.
    const history = await f.stack.temporal.workflow.getHandle(`customer-${c.id}`).fetchHistory();
    const localActivityTypes = (history.events ?? [])
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => {
        const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
        return data ? (JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type : 'unknown';
      });
    expect(localActivityTypes).toEqual(['pushCustomerToTargets', 'pushCustomerToTargets']);
    const signals = (history.events ?? []).flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    expect(signals).not.toContain(remoteCustomerChangeSignal.name);
    recordHistoryIfAsked(`customer-${c.id}`, 'customer-sync-push-all-targets');
  });

  it('never lets an older event overwrite a newer state: stale webhooks delivered last change nothing', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Start' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    // Two edits at Stripe whose events are then delivered newest first.
    f.stripe.pauseWebhooks();
    await t.sdk.customers.update(remoteId, { name: 'First' });
    await t.sdk.customers.update(remoteId, { name: 'Second' });
    const events = (await t.sdk.events.list({ type: 'customer.updated', limit: 2 })).data; // newest first
    const endpoint = `${f.baseUrl}/v1/webhooks/${t.connectionId}`;
    for (const event of events) {
      expect((await deliverSigned(endpoint, t.webhookSecret, event)).status).toBe(200);
    }
    await eventually('the newest name', async () =>
      (await getCustomer(f, t, c.id)).name === 'Second' ? true : undefined,
    );
    f.stripe.resumeWebhooks();
    await f.stripe.webhooksIdle();
    await settle();
    expect((await getCustomer(f, t, c.id)).name).toBe('Second');
  });

  it.each([
    { policy: undefined, winner: 'remote' as const },
    { policy: 'local_wins' as const, winner: 'local' as const },
  ])(
    'merges edits made on both sides between two syncs per field; a field changed on both is decided by policy ($winner wins)',
    async ({ policy, winner }) => {
      const t = await setUpSyncTenant(f, {
        enabled: true,
        ...(policy ? { fieldPolicies: { name: policy } } : {}),
      });
      const c = await createCustomer(f, t, { name: 'Base', phone: '+1 000', description: 'base' });
      const remoteId = await syncedRemote(f, t, c.id, 1);
      await f.stripe.webhooksIdle();
      // An older Stripe edit's event is delivered only after a newer one: re-read then, the record holds
      // the newer edit too, which must be dated by what it is, not by the older event.
      f.stripe.pauseWebhooks();
      await f.stack.stopWorker();
      try {
        await t.sdk.customers.update(remoteId, { description: 'remote' });
        const older = (await t.sdk.events.list({ type: 'customer.updated', limit: 1 })).data[0]!;
        await new Promise((r) => setTimeout(r, 1100)); // Stripe's event times are in whole seconds
        await request(f.stack.app)
          .patch(`/v1/customers/${c.id}`)
          .set(t.auth)
          .send({ name: 'Local name', phone: '+1 111' })
          .expect(200);
        await new Promise((r) => setTimeout(r, 1100));
        await t.sdk.customers.update(remoteId, { name: 'Remote name' });
        const res = await deliverSigned(`${f.baseUrl}/v1/webhooks/${t.connectionId}`, t.webhookSecret, older);
        expect(res.status).toBe(200);
        f.stripe.resumeWebhooks(); // the older event again (a repeat), then the newer one
        await f.stripe.webhooksIdle();
      } finally {
        f.stripe.resumeWebhooks();
        await f.stack.startWorker();
      }
      const name = winner === 'remote' ? 'Remote name' : 'Local name';
      await eventually('both sides merged', async () => {
        const local = await getCustomer(f, t, c.id);
        const remote = (await t.sdk.customers.retrieve(remoteId)) as {
          name: string;
          phone: string;
          description: string;
        };
        const want = { name, phone: '+1 111', description: 'remote' };
        return local.name === want.name &&
          local.phone === want.phone &&
          local.description === want.description &&
          remote.name === want.name &&
          remote.phone === want.phone &&
          remote.description === want.description
          ? true
          : undefined;
      });
      const sync = await syncOf(f, t, c.id);
      expect(sync.conflicts).toEqual([
        expect.objectContaining({
          field: 'name',
          localValue: 'Local name',
          remoteValue: 'Remote name',
          policy: policy ?? 'most_recent',
          decision: winner,
        }),
      ]);
    },
  );
});

describe('reconciliation', () => {
  it('recovers a change whose webhook was missed, from the events feed after the stored cursor', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Seen' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    // The connection's hourly reconcile fires on the hour: it must not be what recovers the change.
    await f.stack.temporal.schedule.getHandle(workflowId.customerReconcileSchedule(t.connectionId)).pause('test');
    // A first run stores the cursor (the feed so far is our own create: an echo).
    const first = await request(f.stack.app)
      .post(`/v1/connections/${t.connectionId}/sync`)
      .set(t.auth)
      .expect(200);
    expect(first.body).toMatchObject({
      status: 'completed',
      workflowId: `customer-reconcile-${t.connectionId}`,
    });
    f.stripe.pauseWebhooks();
    try {
      await t.sdk.customers.update(remoteId, { name: 'Changed while webhooks were lost' });
      await settle();
      expect((await getCustomer(f, t, c.id)).name).toBe('Seen');
      const res = await request(f.stack.app)
        .post(`/v1/connections/${t.connectionId}/sync`)
        .set(t.auth)
        .expect(200);
      expect(res.body).toMatchObject({ status: 'completed', changes: 1 });
      recordHistoryIfAsked(res.body.workflowId, 'customer-reconcile-missed-webhook');
      await eventually('the missed change', async () =>
        (await getCustomer(f, t, c.id)).name === 'Changed while webhooks were lost' ? true : undefined,
      );
      // The cursor moved on: nothing new the next time.
      expect(
        (await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).set(t.auth).expect(200))
          .body.changes,
      ).toBe(0);
    } finally {
      f.stripe.resumeWebhooks();
    }
    await request(f.stack.app)
      .post(`/v1/connections/${t.connectionId}/sync`)
      .set({ Authorization: 'Bearer nope' })
      .expect(401);
  });
});
