import { and, desc, eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, events, webhookEndpoints } from '../../src/db/schema.js';
import { DEFAULT_TENANT_QUOTAS } from '../../src/stores/platform/quota-store.js';
import { openEndpointSecrets } from '../../src/stores/events/webhook-endpoint-store.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
type Tenant = Awaited<ReturnType<TestStack['createTenant']>>;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  a = await stack.createTenant('endpoints A');
  b = await stack.createTenant('endpoints B');
});
afterAll(async () => stack?.close());

const create = (body: object, tenant: Tenant = a, app = stack.app) => request(app).post('/v1/webhook-endpoints').set(tenant.auth).send(body);
const rowOf = async (id: string) => (await stack.database.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)))[0]!;
const errorPaths = (res: request.Response) => (res.body.error.details as { path: string }[]).map((d) => d.path);
/** A secret as Standard Webhooks spells it: whsec_ and the base64 of 32 random bytes. */
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

describe('webhook endpoints API', () => {
  it('creates with a secret shown once, sealed at rest, and never shown by GET or LIST', async () => {
    const res = await create({ url: 'https://shop.example.com/hooks', eventTypes: ['payment.*', 'refund.succeeded', 'payment.*'], description: 'orders' }).expect(201);
    const { endpoint, secret } = res.body;
    expect(secret).toMatch(SECRET);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(endpoint).toMatchObject({
      object: 'webhook_endpoint',
      url: 'https://shop.example.com/hooks',
      eventTypes: ['payment.*', 'refund.succeeded'],
      description: 'orders',
      payloadStyle: 'full',
      enabled: true,
      disabledReason: null,
      previousSecretExpiresAt: null,
    });
    expect(endpoint.id).toMatch(/^we_/);

    const row = await rowOf(endpoint.id);
    expect(row.secret.toString('latin1')).not.toContain(secret.slice(6, 20));
    expect(openEndpointSecrets(stack, row)).toEqual({ current: secret });

    const got = await request(stack.app).get(`/v1/webhook-endpoints/${endpoint.id}`).set(a.auth).expect(200);
    expect(got.body).toEqual(endpoint);
    const listed = await request(stack.app).get('/v1/webhook-endpoints').set(a.auth).expect(200);
    expect(listed.body.data.map((e: { id: string }) => e.id)).toContain(endpoint.id);
    for (const body of [got.body, listed.body]) {
      expect(JSON.stringify(body)).not.toContain(secret);
      expect(JSON.stringify(body)).not.toMatch(/whsec_|"secret"/);
    }

    const [audit] = await stack.database.db.select().from(auditEvents).where(and(eq(auditEvents.resourceId, endpoint.id), eq(auditEvents.action, 'webhook_endpoint.created')));
    expect(audit).toMatchObject({ tenantId: a.id, actorType: 'api_key', resourceType: 'webhook_endpoint' });
    expect(JSON.stringify(audit!.changes)).not.toContain(secret);
  });

  it('names the bad field in a 400', async () => {
    const cases: [object, string[]][] = [
      [{ url: 'https://ok.example.com', eventTypes: ['payment.succeded'] }, ['body.eventTypes.0']],
      [{ url: 'https://ok.example.com', eventTypes: ['payment.*', 'paymnt.*', 'pay*'] }, ['body.eventTypes.1', 'body.eventTypes.2']],
      [{ url: 'https://ok.example.com', eventTypes: [] }, ['body.eventTypes']],
      [{ url: 'https://ok.example.com' }, ['body.eventTypes']],
      [{ eventTypes: ['*'] }, ['body.url']],
      [{ url: 'https://ok.example.com', eventTypes: ['*'], payloadStyle: 'fat' }, ['body.payloadStyle']],
      [{ url: 'https://ok.example.com', eventTypes: ['*'], secret: 'whsec_mine' }, ['body']],
      [{ url: 'ftp://files.example.com', eventTypes: ['*'] }, ['body.url']],
      [{ url: 'https://user:pw@shop.example.com', eventTypes: ['*'] }, ['body.url']],
      [{ url: 'not a url', eventTypes: ['*'] }, ['body.url']],
    ];
    for (const [body, paths] of cases) {
      const res = await create(body).expect(400);
      expect(res.body.error.code, JSON.stringify(body)).toBe('validation_failed');
      expect(errorPaths(res), JSON.stringify(body)).toEqual(paths);
    }
    const typo = await create({ url: 'https://ok.example.com', eventTypes: ['payment.succeded'] });
    expect(typo.body.error.details[0].message).toBe('event type pattern "payment.succeded" is not an event type');
    // Nothing was stored for any of them.
    const listed = await request(stack.app).get('/v1/webhook-endpoints').set(a.auth).expect(200);
    expect(listed.body.data.some((e: { url: string }) => e.url === 'https://ok.example.com')).toBe(false);
  });

  it('requires https and a public address unless the deployment allows private networks', async () => {
    const strict = stack.makeApp({ urlPolicy: { allowPrivateNetworks: false } });
    for (const url of ['http://shop.example.com/hooks', 'https://127.0.0.1/hooks', 'https://localhost:8443/hooks', 'https://10.1.2.3/hooks', 'https://metadata.internal/x']) {
      const res = await create({ url, eventTypes: ['*'] }, a, strict).expect(400);
      expect(errorPaths(res), url).toEqual(['body.url']);
    }
    const ok = await create({ url: 'https://shop.example.com/strict', eventTypes: ['*'] }, a, strict).expect(201);
    const patched = await request(strict).patch(`/v1/webhook-endpoints/${ok.body.endpoint.id}`).set(a.auth).send({ url: 'http://shop.example.com/strict' }).expect(400);
    expect(errorPaths(patched)).toEqual(['body.url']);
    expect((await rowOf(ok.body.endpoint.id)).url).toBe('https://shop.example.com/strict');
    // The test stack allows private networks (receivers on loopback), as local development does.
    await create({ url: 'http://127.0.0.1:9/hooks', eventTypes: ['*'] }).expect(201);
  });

  it('PATCH merges: absent fields stay, null clears the description, other nulls are refused', async () => {
    const { endpoint } = (await create({ url: 'https://a.example.com/h', eventTypes: ['customer.*'], description: 'crm', payloadStyle: 'thin' }).expect(201)).body;
    const path = `/v1/webhook-endpoints/${endpoint.id}`;
    const one = await request(stack.app).patch(path).set(a.auth).send({ eventTypes: ['customer.created', 'erp.run.*'] }).expect(200);
    expect(one.body).toMatchObject({ url: 'https://a.example.com/h', eventTypes: ['customer.created', 'erp.run.*'], description: 'crm', payloadStyle: 'thin', enabled: true });
    const two = await request(stack.app).patch(path).set(a.auth).send({ description: null, payloadStyle: 'full' }).expect(200);
    expect(two.body).toMatchObject({ description: null, payloadStyle: 'full', eventTypes: ['customer.created', 'erp.run.*'] });
    expect(Date.parse(two.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(endpoint.updatedAt));
    for (const body of [{ url: null }, { eventTypes: null }, { enabled: null }, { payloadStyle: null }]) {
      const res = await request(stack.app).patch(path).set(a.auth).send(body).expect(400);
      expect(errorPaths(res)).toEqual([`body.${Object.keys(body)[0]}`]);
    }
    expect(errorPaths(await request(stack.app).patch(path).set(a.auth).send({}).expect(400))).toEqual(['body']);
    expect(errorPaths(await request(stack.app).patch(path).set(a.auth).send({ eventTypes: ['nope.*'] }).expect(400))).toEqual(['body.eventTypes.0']);
    const unchanged = await request(stack.app).get(path).set(a.auth).expect(200);
    expect(unchanged.body).toEqual(two.body);
  });

  it('disabling records webhook_endpoint.disabled; re-enabling clears the reason and the failure clock', async () => {
    const { endpoint } = (await create({ url: 'https://b.example.com/h', eventTypes: ['*'] }).expect(201)).body;
    const path = `/v1/webhook-endpoints/${endpoint.id}`;
    const off = await request(stack.app).patch(path).set(a.auth).send({ enabled: false }).expect(200);
    expect(off.body).toMatchObject({ enabled: false, disabledReason: 'manual' });
    expect(off.body.disabledAt).toEqual(expect.any(String));
    const recorded = await request(stack.app).get('/v1/events').query({ type: 'webhook_endpoint.disabled', resourceId: endpoint.id }).set(a.auth).expect(200);
    expect(recorded.body.data).toHaveLength(1);
    expect(recorded.body.data[0]).toMatchObject({ type: 'webhook_endpoint.disabled', sequence: 1, resource: { type: 'webhook_endpoint', id: endpoint.id }, data: off.body });
    // Disabling a disabled endpoint records nothing more.
    await request(stack.app).patch(path).set(a.auth).send({ enabled: false }).expect(200);

    // As the delivery side leaves one it disabled for failing.
    await stack.database.db
      .update(webhookEndpoints)
      .set({ disabledReason: 'failing', failingSince: new Date(Date.now() - 3 * 86_400_000) })
      .where(eq(webhookEndpoints.id, endpoint.id));
    const on = await request(stack.app).patch(path).set(a.auth).send({ enabled: true }).expect(200);
    expect(on.body).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null, failingSince: null });
    const after = await request(stack.app).get('/v1/events').query({ type: 'webhook_endpoint.*', resourceId: endpoint.id }).set(a.auth).expect(200);
    expect(after.body.data).toHaveLength(1);
    // Created disabled: disabled by the tenant, no event (nothing was ever enabled).
    const created = await create({ url: 'https://c.example.com/h', eventTypes: ['*'], enabled: false }).expect(201);
    expect(created.body.endpoint).toMatchObject({ enabled: false, disabledReason: 'manual' });
  });

  it('rotates: a new secret shown once, the old one valid for the grace period, never more than two', async () => {
    const first = (await create({ url: 'https://d.example.com/h', eventTypes: ['*'] }).expect(201)).body;
    const path = `/v1/webhook-endpoints/${first.endpoint.id}/rotate-secret`;
    const before = Date.now();
    const rotated = await request(stack.app).post(path).set(a.auth).send({ graceSeconds: 3600 }).expect(200);
    expect(rotated.body.secret).toMatch(SECRET);
    expect(rotated.body.secret).not.toBe(first.secret);
    const expires = Date.parse(rotated.body.endpoint.previousSecretExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    const row = await rowOf(first.endpoint.id);
    expect(openEndpointSecrets(stack, row)).toEqual({ current: rotated.body.secret, previous: first.secret });
    // Once the grace period is over, only the current secret signs.
    expect(openEndpointSecrets(stack, row, new Date(expires + 1))).toEqual({ current: rotated.body.secret });

    // No body: the default grace of 24 h; the first secret is dropped (only two are ever valid).
    const again = await request(stack.app).post(path).set(a.auth).expect(200);
    expect(Date.parse(again.body.endpoint.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    expect(openEndpointSecrets(stack, await rowOf(first.endpoint.id))).toEqual({ current: again.body.secret, previous: rotated.body.secret });

    const now = await request(stack.app).post(path).set(a.auth).send({ graceSeconds: 0 }).expect(200);
    expect(now.body.endpoint.previousSecretExpiresAt).toBeNull();
    expect(openEndpointSecrets(stack, await rowOf(first.endpoint.id))).toEqual({ current: now.body.secret });

    for (const graceSeconds of [-1, 7 * 86_400 + 1, 1.5, '60']) {
      const res = await request(stack.app).post(path).set(a.auth).send({ graceSeconds }).expect(400);
      expect(errorPaths(res)).toEqual(['body.graceSeconds']);
    }
    const audits = await stack.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.resourceId, first.endpoint.id), eq(auditEvents.action, 'webhook_endpoint.secret_rotated')))
      .orderBy(desc(auditEvents.seq));
    expect(audits).toHaveLength(3);
    for (const s of [first.secret, rotated.body.secret, again.body.secret, now.body.secret]) expect(JSON.stringify(audits)).not.toContain(s);
  });

  it('deletes an endpoint; it is gone afterwards', async () => {
    const { endpoint } = (await create({ url: 'https://e.example.com/h', eventTypes: ['*'] }).expect(201)).body;
    const path = `/v1/webhook-endpoints/${endpoint.id}`;
    const deleted = await request(stack.app).delete(path).set(a.auth).expect(200);
    expect(deleted.body.id).toBe(endpoint.id);
    await request(stack.app).get(path).set(a.auth).expect(404);
    await request(stack.app).delete(path).set(a.auth).expect(404);
    await request(stack.app).patch(path).set(a.auth).send({ enabled: true }).expect(404);
    await request(stack.app).post(`${path}/rotate-secret`).set(a.auth).expect(404);
  });

  it("keeps tenants apart: B cannot see, change, rotate or delete A's endpoints", async () => {
    const { endpoint } = (await create({ url: 'https://f.example.com/h', eventTypes: ['*'] }).expect(201)).body;
    const path = `/v1/webhook-endpoints/${endpoint.id}`;
    const missing = await request(stack.app).get(path).set(b.auth).expect(404);
    expect(missing.body.error.message).toBe(`webhook endpoint ${endpoint.id} not found`);
    await request(stack.app).patch(path).set(b.auth).send({ enabled: false }).expect(404);
    await request(stack.app).post(`${path}/rotate-secret`).set(b.auth).expect(404);
    await request(stack.app).delete(path).set(b.auth).expect(404);
    expect((await request(stack.app).get('/v1/webhook-endpoints').set(b.auth).expect(200)).body.data).toEqual([]);
    const stillThere = await request(stack.app).get(path).set(a.auth).expect(200);
    expect(stillThere.body).toEqual(endpoint);
    expect(await stack.database.db.select().from(events).where(eq(events.resourceId, endpoint.id))).toEqual([]);
  });

  it('refuses a create past TENANT_MAX_WEBHOOK_ENDPOINTS, and lists the quota', async () => {
    const app = stack.makeApp({ quotas: { ...DEFAULT_TENANT_QUOTAS, webhook_endpoints: 2 } });
    const t = await stack.createTenant('endpoint quota');
    await create({ url: 'https://q.example.com/1', eventTypes: ['*'] }, t, app).expect(201);
    await create({ url: 'https://q.example.com/2', eventTypes: ['*'] }, t, app).expect(201);
    const over = await create({ url: 'https://q.example.com/3', eventTypes: ['*'] }, t, app).expect(422);
    expect(over.body.error.code).toBe('quota_exceeded');
    expect(over.body.error.message).toMatch(/^quota webhook_endpoints: 2 of 2 used \(TENANT_MAX_WEBHOOK_ENDPOINTS\)/);
    const quotas = await request(app).get('/v1/quotas').set(t.auth).expect(200);
    expect(quotas.body.data).toContainEqual({ name: 'webhook_endpoints', setting: 'TENANT_MAX_WEBHOOK_ENDPOINTS', limit: 2, used: 2 });
  });

  it('a read-only key can list but not create', async () => {
    const key = await request(stack.app).post('/v1/api-keys').set(a.auth).send({ name: 'reader', scope: 'read' }).expect(201);
    const reader = { Authorization: `Bearer ${key.body.apiKey}` };
    await request(stack.app).get('/v1/webhook-endpoints').set(reader).expect(200);
    await request(stack.app).post('/v1/webhook-endpoints').set(reader).send({ url: 'https://r.example.com', eventTypes: ['*'] }).expect(403);
  });
});
