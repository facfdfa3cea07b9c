import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerOutbox } from '../../src/db/schema.js';
import { asc, eq } from 'drizzle-orm';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let auth: { Authorization: string };

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  auth = (await stack.createTenant()).auth;
});
afterAll(async () => stack?.close());

const create = (body: object, key: string = crypto.randomUUID()) => request(stack.app).post('/v1/customers').set(auth).set('Idempotency-Key', key).send(body);
// In commit order: without ORDER BY, Postgres returns rows in heap order, which the relay's updates shuffle.
const outboxOf = (id: string) => stack.database.db.select().from(customerOutbox).where(eq(customerOutbox.customerId, id)).orderBy(asc(customerOutbox.version));

describe('customers API', () => {
  it('creates, replays with the same Idempotency-Key, and writes one outbox row per change', async () => {
    const body = { email: 'ada@example.com', name: 'Ada', address: { city: 'London', country: 'GB' }, metadata: { tier: 'gold' } };
    const first = await create(body, 'k-create-1').expect(201);
    expect(first.body).toMatchObject({ object: 'customer', email: 'ada@example.com', version: 1, deleted: false, workflowId: `customer-${first.body.id}` });
    expect(first.body.address).toEqual({ line1: null, line2: null, city: 'London', postal_code: null, state: null, country: 'GB' });
    expect(first.headers.etag).toBe('"1"');
    const again = await create(body, 'k-create-1').expect(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    await create({ ...body, name: 'Other' }, 'k-create-1').expect(422);
    expect(await outboxOf(first.body.id)).toHaveLength(1);
  });

  it('names the bad field in a 400', async () => {
    const res = await create({ email: 'not-an-email', address: { country: 'germany' } }).expect(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['body.address.country', 'body.email']);
    await request(stack.app).post('/v1/customers').set(auth).send({ name: 'x' }).expect(400);
  });

  it('PATCH with If-Match: 412 on a stale version; the version grows with each change', async () => {
    const c = (await create({ name: 'Grace' }).expect(201)).body;
    const patched = await request(stack.app).patch(`/v1/customers/${c.id}`).set(auth).set('If-Match', '"1"').send({ phone: '+44 20 1234' }).expect(200);
    expect(patched.body).toMatchObject({ name: 'Grace', phone: '+44 20 1234', version: 2 });
    const stale = await request(stack.app).patch(`/v1/customers/${c.id}`).set(auth).set('If-Match', '"1"').send({ name: 'X' }).expect(412);
    expect(stale.body.error.code).toBe('precondition_failed');
    await request(stack.app).patch(`/v1/customers/${c.id}`).set(auth).set('If-Match', 'banana').send({ name: 'X' }).expect(400);
    await request(stack.app).delete(`/v1/customers/${c.id}`).set(auth).set('If-Match', '"1"').expect(412);
    const deleted = await request(stack.app).delete(`/v1/customers/${c.id}`).set(auth).set('If-Match', '"2"').expect(200);
    expect(deleted.body).toMatchObject({ deleted: true, version: 3 });
    expect((await request(stack.app).delete(`/v1/customers/${c.id}`).set(auth).expect(200)).body.version).toBe(3);
    await request(stack.app).patch(`/v1/customers/${c.id}`).set(auth).send({ name: 'Zombie' }).expect(409);
    expect((await outboxOf(c.id)).map((o) => o.version)).toEqual([1, 2, 3]);
  });

  it('lists with cursor and filters, hides tombstones, and is tenant-scoped', async () => {
    const other = await stack.createTenant('other');
    await request(stack.app).post('/v1/customers').set(other.auth).set('Idempotency-Key', 'o1').send({ email: 'list@example.com' }).expect(201);
    const since = new Date().toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ email: 'list@example.com', name: `L${i}` }).expect(201)).body.id);
    await request(stack.app).delete(`/v1/customers/${ids[2]}`).set(auth).expect(200);
    const page1 = await request(stack.app).get('/v1/customers').query({ email: 'list@example.com', limit: 1, updatedSince: since }).set(auth).expect(200);
    expect(page1.body.data.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    const page2 = await request(stack.app).get('/v1/customers').query({ email: 'list@example.com', limit: 5, cursor: page1.body.nextCursor }).set(auth).expect(200);
    expect(page2.body.data.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    expect(page2.body.nextCursor).toBeNull();
    const withDeleted = await request(stack.app).get('/v1/customers').query({ email: 'list@example.com', includeDeleted: 'true' }).set(auth).expect(200);
    expect(withDeleted.body.data).toHaveLength(3);
    const inSync = await request(stack.app).get('/v1/customers').query({ syncState: 'in_sync' }).set(auth).expect(200);
    expect(inSync.body.data).toEqual([]);
    await request(stack.app).get(`/v1/customers/${ids[0]}`).set(other.auth).expect(404);
    await request(stack.app).get('/v1/customers').query({ cursor: 'zzz' }).set(auth).expect(400);
  });

  it('GET /sync lists no systems without a connection that syncs customers', async () => {
    const c = (await create({ name: 'Solo' }).expect(201)).body;
    const sync = await request(stack.app).get(`/v1/customers/${c.id}/sync`).set(auth).expect(200);
    expect(sync.body).toEqual({ customerId: c.id, version: 1, systems: [], conflicts: [] });
  });
});
