import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventComponentName } from '../../src/api/routes/events/event-payloads.js';
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from '../../src/domain/events/event-types.js';
import { recordEvent, type NewEvent } from '../../src/stores/events/event-store.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
type Tenant = Awaited<ReturnType<TestStack['createTenant']>>;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  a = await stack.createTenant('events A');
  b = await stack.createTenant('events B');
});
afterAll(async () => stack?.close());

/** Records an event the way a change does: in a transaction of its own here. */
const record = <T extends EventType>(tenant: Tenant, type: T, resourceId: string, data: Record<string, unknown> = {}) =>
  stack.database.db.transaction((tx) =>
    recordEvent(tx, { tenantId: tenant.id, type, resource: { type: EVENT_CATALOG[type].resource, id: resourceId } as NewEvent<T>['resource'], data }),
  );
const list = (query: Record<string, string | number>, tenant: Tenant = a) => request(stack.app).get('/v1/events').query(query).set(tenant.auth);
const ids = (res: request.Response) => (res.body.data as { id: string }[]).map((e) => e.id);

describe('GET /v1/events', () => {
  it('pages newest first with hasMore and nextCursor until the last event, and oldest first with order=asc', async () => {
    const resourceId = `pay_list_${Date.now()}`;
    const recorded = [];
    for (const type of ['payment.requires_action', 'payment.authorized', 'payment.captured', 'payment.partially_refunded', 'payment.refunded'] as const) {
      recorded.push(await record(a, type, resourceId, { status: type.slice('payment.'.length) }));
    }
    const newestFirst = [...recorded].reverse().map((e) => e.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: request.Response = await list({ resourceId, limit: 2, ...(cursor ? { cursor } : {}) }).expect(200);
      seen.push(...ids(page));
      expect(page.body.hasMore).toBe(page.body.nextCursor !== null);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);

    const asc1 = await list({ resourceId, limit: 3, order: 'asc' }).expect(200);
    expect(ids(asc1)).toEqual(recorded.slice(0, 3).map((e) => e.id));
    expect(asc1.body.hasMore).toBe(true);
    const asc2 = await list({ resourceId, limit: 3, order: 'asc', cursor: asc1.body.nextCursor }).expect(200);
    expect(ids(asc2)).toEqual(recorded.slice(3).map((e) => e.id));
    expect(asc2.body).toMatchObject({ hasMore: false, nextCursor: null });
    expect(asc2.body.data.map((e: { sequence: number }) => e.sequence)).toEqual([4, 5]);

    // A cursor is bound to its order: using it with the other one is refused, not misread.
    const mixed = await list({ resourceId, order: 'desc', cursor: asc1.body.nextCursor }).expect(400);
    expect(mixed.body.error.details).toEqual([{ path: 'query.cursor', message: 'send order=asc with this cursor, or start again without one' }]);
  });

  it('filters by type patterns and by resource', async () => {
    const paymentId = `pay_filter_${Date.now()}`;
    const refundId = `re_filter_${Date.now()}`;
    const customerId = `cust_filter_${Date.now()}`;
    const succeeded = await record(a, 'payment.succeeded', paymentId);
    const refunded = await record(a, 'refund.succeeded', refundId);
    const created = await record(a, 'customer.created', customerId);
    const run = await record(a, 'erp.run.failed', `erun_filter_${Date.now()}`);
    const mine = new Set([succeeded.id, refunded.id, created.id, run.id]);
    const only = async (query: Record<string, string>) => ids(await list({ ...query, limit: 100 }).expect(200)).filter((id) => mine.has(id));

    expect(await only({ type: 'payment.*' })).toEqual([succeeded.id]);
    expect(await only({ type: 'payment.succeeded,refund.*' })).toEqual([refunded.id, succeeded.id]);
    expect(await only({ type: 'erp.*' })).toEqual([run.id]);
    expect(await only({ type: '*' })).toEqual([run.id, created.id, refunded.id, succeeded.id]);
    expect(await only({ type: 'payment.failed' })).toEqual([]);
    expect(await only({ resourceType: 'customer', resourceId: customerId })).toEqual([created.id]);
    expect(await only({ resourceType: 'refund' })).toEqual([refunded.id]);
    expect(await only({ resourceType: 'payment', resourceId: customerId })).toEqual([]);
  });

  it('names the bad query parameter in a 400', async () => {
    const cases: [Record<string, string | number>, string, RegExp][] = [
      [{ type: 'payment.succeded' }, 'query.type', /"payment.succeded" is not an event type/],
      [{ type: 'payment.*,paymnt.*' }, 'query.type', /"paymnt.\*" matches no event type/],
      [{ type: 'pay*' }, 'query.type', /malformed/],
      [{ resourceType: 'planet' }, 'query.resourceType', /./],
      [{ order: 'sideways' }, 'query.order', /./],
      [{ limit: 0 }, 'query.limit', /./],
      [{ limit: 101 }, 'query.limit', /./],
      [{ cursor: 'bm9wZQ' }, 'query.cursor', /nextCursor/],
      [{ cursor: 'not a cursor!' }, 'query.cursor', /nextCursor/],
      [{ since: '2026-01-01' }, 'query', /./],
    ];
    for (const [query, path, message] of cases) {
      const res = await list(query).expect(400);
      expect(res.body.error.code, JSON.stringify(query)).toBe('validation_failed');
      expect(res.body.error.details[0].path, JSON.stringify(query)).toBe(path);
      expect(res.body.error.details[0].message, JSON.stringify(query)).toMatch(message);
    }
  });
});

describe('GET /v1/events/:id', () => {
  it('shows the event as it is delivered', async () => {
    const customerId = `cust_get_${Date.now()}`;
    await record(a, 'customer.created', customerId, { name: 'Ada' });
    const row = await record(a, 'customer.updated', customerId, { name: 'Ada Lovelace' });
    const res = await request(stack.app).get(`/v1/events/${row.id}`).set(a.auth).expect(200);
    expect(res.body).toEqual({
      id: row.id,
      type: 'customer.updated',
      created_at: row.createdAt.toISOString(),
      sequence: 2,
      resource: { type: 'customer', id: customerId },
      data: { name: 'Ada Lovelace' },
    });
    const missing = await request(stack.app).get('/v1/events/evt_doesnotexist').set(a.auth).expect(404);
    expect(missing.body.error.message).toBe('event evt_doesnotexist not found');
  });
});

describe('tenant isolation', () => {
  it("B sees none of A's events, by id or in a list", async () => {
    const resourceId = `pay_iso_${Date.now()}`;
    const row = await record(a, 'payment.failed', resourceId);
    const byId = await request(stack.app).get(`/v1/events/${row.id}`).set(b.auth).expect(404);
    expect(byId.body.error.code).toBe('not_found');
    expect((await list({ resourceId }, b).expect(200)).body.data).toEqual([]);
    expect(ids(await list({ limit: 100 }, b).expect(200))).not.toContain(row.id);
    expect(ids(await list({ resourceId }).expect(200))).toEqual([row.id]);
    await request(stack.app).get('/v1/events').expect(401);
  });
});

describe('the OpenAPI document', () => {
  it('documents every event type as a named component with its payload schema', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, { $ref?: string; const?: string }> }>;
    for (const type of EVENT_TYPES) {
      const component = schemas[eventComponentName(type)];
      expect(component, type).toBeDefined();
      expect(component!.properties!.type!.const, type).toBe(type);
      expect(component!.properties!.data, type).toBeDefined();
    }
    const ref = (type: EventType) => schemas[eventComponentName(type)]!.properties!.data!.$ref;
    // Payloads are the API's own resource schemas, referenced, not copies.
    expect(ref('payment.succeeded')).toBe('#/components/schemas/Payment');
    expect(ref('refund.failed')).toBe('#/components/schemas/Refund');
    expect(ref('customer.deleted')).toBe('#/components/schemas/Customer');
    expect(ref('erp.run.completed')).toBe('#/components/schemas/ErpRun');
    expect(ref('erp.dead_letter.created')).toBe('#/components/schemas/DeadLetter');
    expect(ref('integration.paused')).toBe('#/components/schemas/ErpIntegration');
    expect(ref('connection.circuit_opened')).toBe('#/components/schemas/ConnectionHealth');
    expect(ref('webhook_endpoint.disabled')).toBe('#/components/schemas/WebhookEndpoint');
    expect(JSON.stringify(doc.paths['/v1/events/{id}'].get)).toContain('#/components/schemas/Event');
    const union = JSON.stringify(schemas.Event);
    for (const type of EVENT_TYPES) expect(union).toContain(`#/components/schemas/${eventComponentName(type)}`);
    expect(doc.paths['/v1/webhook-endpoints/{id}/rotate-secret'].post).toBeDefined();
  });
});
