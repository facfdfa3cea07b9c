import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids.js';
import { normalizeFields } from '../../src/domain/customers/fields.js';
import { createCustomer as createCustomerRow } from '../../src/stores/customers/customer-store.js';
import {
  createCustomer,
  eventually,
  getCustomer,
  setUpSyncTenant,
  startCustomersFixture,
  syncedRemote,
  syncOf,
  type CustomersFixture,
  type SyncTenant,
} from '../support/customers-fixture.js';

let f: CustomersFixture;
beforeAll(async () => {
  f = await startCustomersFixture();
});
afterAll(async () => f?.close());

interface EventView {
  id: string;
  type: string;
  sequence: number;
  created_at: string;
  resource: { type: string; id: string };
  data: Record<string, unknown>;
}

/** A customer's events as GET /v1/events shows them, oldest first. */
async function customerEvents(auth: { Authorization: string }, customerId: string): Promise<EventView[]> {
  const res = await request(f.stack.app)
    .get('/v1/events')
    .query({ resourceType: 'customer', resourceId: customerId, order: 'asc', limit: 100 })
    .set(auth)
    .expect(200);
  expect(res.body.hasMore).toBe(false);
  return res.body.data as EventView[];
}

const types = (events: EventView[]) => events.map((e) => [e.type, e.sequence]);
const settle = () => new Promise((r) => setTimeout(r, 1500));

describe('customer events', () => {
  it('an API create, edit and delete each record one event carrying the customer as GET shows it; refused or repeated requests record none', async () => {
    const t = await f.stack.createTenant('Customer events');
    const key = randomUUID();
    const create = () => request(f.stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', key).send({ email: 'ev@example.com', name: 'Eve' });
    const created = (await create().expect(201)).body as { id: string };
    const get = async () => (await request(f.stack.app).get(`/v1/customers/${created.id}`).set(t.auth).expect(200)).body as Record<string, unknown>;

    let events = await customerEvents(t.auth, created.id);
    expect(types(events)).toEqual([['customer.created', 1]]);
    expect(events[0]!.resource).toEqual({ type: 'customer', id: created.id });
    expect(events[0]!.data).toEqual(await get());
    // The same request again is a replay: no second customer, no second event.
    expect((await create().expect(201)).headers['idempotent-replayed']).toBe('true');

    await request(f.stack.app).patch(`/v1/customers/${created.id}`).set(t.auth).set('If-Match', '"7"').send({ name: 'Stale' }).expect(412);
    await request(f.stack.app).patch(`/v1/customers/${created.id}`).set(t.auth).send({ phone: '+49 30 1' }).expect(200);
    events = await customerEvents(t.auth, created.id);
    expect(types(events)).toEqual([['customer.created', 1], ['customer.updated', 2]]);
    expect(events[1]!.data).toEqual(await get());
    expect(events[1]!.data).toMatchObject({ phone: '+49 30 1', version: 2 });

    await request(f.stack.app).delete(`/v1/customers/${created.id}`).set(t.auth).expect(200);
    await request(f.stack.app).delete(`/v1/customers/${created.id}`).set(t.auth).expect(200); // changes nothing
    await request(f.stack.app).patch(`/v1/customers/${created.id}`).set(t.auth).send({ name: 'Ghost' }).expect(409);
    events = await customerEvents(t.auth, created.id);
    expect(types(events)).toEqual([['customer.created', 1], ['customer.updated', 2], ['customer.deleted', 3]]);
    expect(events[2]!.data).toEqual(await get());
    expect(events[2]!.data).toMatchObject({ deleted: true, version: 3 });
    // One event read by id is the one listed.
    expect((await request(f.stack.app).get(`/v1/events/${events[2]!.id}`).set(t.auth).expect(200)).body).toEqual(events[2]);

    // A create whose transaction rolls back leaves neither the customer nor its event.
    const lostId = newId('cust');
    const rolledBack = f.stack.database.db.transaction(async (tx) => {
      await createCustomerRow(tx, { id: lostId, tenantId: t.id, fields: normalizeFields({ name: 'Lost' }) });
      throw new Error('the idempotency record could not be stored');
    });
    await expect(rolledBack).rejects.toThrow('the idempotency record could not be stored');
    await request(f.stack.app).get(`/v1/customers/${lostId}`).set(t.auth).expect(404);
    expect(await customerEvents(t.auth, lostId)).toEqual([]);
  });

  it('a customer created, edited and deleted at Stripe records created, updated and deleted as the sync applies each; our own echoes record nothing', async () => {
    const t = await setUpSyncTenant(f);
    const local = await createCustomer(f, t, { email: 'here@example.com', name: 'Made here' });
    await syncedRemote(f, t, local.id, 1);
    await f.stripe.webhooksIdle();
    await settle();
    // Our create came back by webhook as an echo: still only the API's event.
    expect(types(await customerEvents(t.auth, local.id))).toEqual([['customer.created', 1]]);

    const remote = await t.sdk.customers.create({ email: 'born@stripe.test', name: 'Born at Stripe' });
    const twin = await eventually('the local twin', async () => {
      const list = await request(f.stack.app).get('/v1/customers').query({ email: 'born@stripe.test' }).set(t.auth).expect(200);
      return list.body.data[0] as { id: string } | undefined;
    });
    let events = await eventually('the created event', async () => {
      const found = await customerEvents(t.auth, twin.id);
      return found.length === 1 ? found : undefined;
    });
    expect(types(events)).toEqual([['customer.created', 1]]);
    expect(events[0]!.data).toEqual(await getCustomer(f, t, twin.id));

    await t.sdk.customers.update(remote.id, { name: 'Renamed at Stripe' });
    await eventually('the rename', async () => ((await getCustomer(f, t, twin.id)).name === 'Renamed at Stripe' ? true : undefined));
    events = await customerEvents(t.auth, twin.id);
    expect(types(events)).toEqual([['customer.created', 1], ['customer.updated', 2]]);
    expect(events[1]!.data).toEqual(await getCustomer(f, t, twin.id));

    await t.sdk.customers.del(remote.id);
    await eventually('the deletion', async () => ((await getCustomer(f, t, twin.id)).deleted ? true : undefined));
    await f.stripe.webhooksIdle();
    await settle();
    events = await customerEvents(t.auth, twin.id);
    expect(types(events)).toEqual([['customer.created', 1], ['customer.updated', 2], ['customer.deleted', 3]]);
    expect(events[2]!.data).toEqual(await getCustomer(f, t, twin.id));
  });

  it('a field edited on both sides records customer.sync_conflict with the decision, then the merge as customer.updated', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Base', phone: '+1 000' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    await settle();
    // With the worker stopped, the local edit waits in the outbox and the Stripe edit's webhook waits in
    // the customer's workflow: the worker then finds both and merges them.
    await f.stack.stopWorker();
    try {
      await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ name: 'Local name' }).expect(200);
      await new Promise((r) => setTimeout(r, 1100)); // Stripe dates its events in whole seconds
      await t.sdk.customers.update(remoteId, { name: 'Remote name', phone: '+1 222' });
      await f.stripe.webhooksIdle();
    } finally {
      await f.stack.startWorker();
    }
    const sync = await eventually('the recorded conflict', async () => {
      const s = await syncOf(f, t, c.id);
      return s.conflicts.length > 0 && s.systems[0]?.state === 'in_sync' ? s : undefined;
    });
    expect(sync.conflicts).toEqual([expect.objectContaining({ field: 'name', localValue: 'Local name', remoteValue: 'Remote name' })]);
    await f.stripe.webhooksIdle();
    await settle();

    const events = await customerEvents(t.auth, c.id);
    const conflictAt = events.findIndex((e) => e.type === 'customer.sync_conflict');
    expect(events.filter((e) => e.type === 'customer.sync_conflict')).toHaveLength(1);
    // Numbered in order: the create, the local edit, the conflict, the merge written locally (a new phone).
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(types(events.slice(0, conflictAt + 2))).toEqual([
      ['customer.created', 1],
      ['customer.updated', 2],
      ['customer.sync_conflict', 3],
      ['customer.updated', 4],
    ]);
    const conflict = events[conflictAt]!;
    expect(conflict.resource).toEqual({ type: 'customer', id: c.id });
    expect(conflict.data).toEqual({ customerId: c.id, ...sync.conflicts[0] });
    expect(events[conflictAt + 1]!.data).toMatchObject({ phone: '+1 222', version: 3 });
    expect(events.at(-1)!.data).toEqual(await getCustomer(f, t, c.id));
  });

  it('a push the remote system refuses for good records customer.sync_failed with the reason the sync state shows', async () => {
    const t = await setUpSyncTenant(f);
    // Stripe refuses the create with 401: credentials it rejects are final, not retried.
    f.stripe.failNext({ status: 401, pathPrefix: '/v1/customers', method: 'POST' });
    const c = await createCustomer(f, t, { name: 'Refused' });
    const system = await eventually('the failed push', async () => {
      const s = (await syncOf(f, t, c.id)).systems[0] as { state: string; failureReason: string | null } | undefined;
      return s?.state === 'failed' ? s : undefined;
    });
    const events = await customerEvents(t.auth, c.id);
    expect(types(events)).toEqual([['customer.created', 1], ['customer.sync_failed', 2]]);
    expect(events[1]!.data).toEqual({
      customerId: c.id,
      version: 1,
      connectionId: t.connectionId,
      remoteSystem: 'stripe',
      failureReason: system.failureReason,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('customers imported by a backfill record one customer.created each, as GET shows them', async () => {
    const t: SyncTenant = await setUpSyncTenant(f, { enabled: false });
    const remote = await Promise.all(['a', 'b', 'c'].map((n) => t.sdk.customers.create({ email: `${n}@import.test`, name: `Imported ${n}` })));
    await f.stripe.webhooksIdle();
    await request(f.stack.app).patch(`/v1/connections/${t.connectionId}`).set(t.auth).send({ settings: { customerSync: { enabled: true } } }).expect(200);
    const imported = await eventually('the import', async () => {
      const list = (await request(f.stack.app).get('/v1/customers').query({ limit: 100 }).set(t.auth).expect(200)).body.data as { id: string; email: string }[];
      return list.length === remote.length ? list : undefined;
    });
    for (const customer of imported) {
      const events = await customerEvents(t.auth, customer.id);
      expect(types(events)).toEqual([['customer.created', 1]]);
      expect(events[0]!.data).toEqual(await getCustomer(f, t, customer.id));
    }
  });
});
