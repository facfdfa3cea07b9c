import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});
afterAll(async () => {
  await stack?.close();
});

async function secondKey(auth: Record<string, string>, scope: 'read' | 'full', name = `${scope} key`) {
  const res = await request(stack.app).post('/v1/api-keys').set(auth).send({ name, scope }).expect(201);
  return { id: res.body.key.id as string, auth: { Authorization: `Bearer ${res.body.apiKey}` }, body: res.body };
}

type Operation = { security?: { tenantApiKey?: string[] }[] };

describe('tenant API keys', () => {
  it('creates a second key that works, and lists keys without secrets', async () => {
    const t = await stack.createTenant();
    const extra = await secondKey(t.auth, 'full', 'ci');
    expect(extra.body.key).toMatchObject({ object: 'api_key', name: 'ci', scope: 'full', revokedAt: null, lastUsedAt: null });
    expect(extra.body.apiKey.startsWith(extra.body.key.prefix)).toBe(true);
    const me = await request(stack.app).get('/v1/tenants/me').set(extra.auth).expect(200);
    expect(me.body.id).toBe(t.id);

    const list = await request(stack.app).get('/v1/api-keys').set(t.auth).expect(200);
    expect(list.body.data).toHaveLength(2);
    expect(list.body.data.map((k: { name: string }) => k.name)).toEqual(['default', 'ci']);
    for (const k of list.body.data) expect(Object.keys(k).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'object', 'prefix', 'revokedAt', 'scope']);
    expect(JSON.stringify(list.body)).not.toContain(extra.body.apiKey);
    expect(JSON.stringify(list.body)).not.toContain(t.apiKey);
  });

  it('records when a key was last used, writing at most once a minute', async () => {
    const t = await stack.createTenant();
    const k = await secondKey(t.auth, 'read');
    await request(stack.app).get('/v1/connections').set(k.auth).expect(200);
    const [first] = await stack.database.db.select().from(apiKeys).where(eq(apiKeys.id, k.id));
    expect(first!.lastUsedAt).toBeInstanceOf(Date);
    await request(stack.app).get('/v1/connections').set(k.auth).expect(200);
    const [second] = await stack.database.db.select().from(apiKeys).where(eq(apiKeys.id, k.id));
    expect(second!.lastUsedAt!.getTime()).toBe(first!.lastUsedAt!.getTime());
    // An hour later it is written again.
    await stack.database.db.update(apiKeys).set({ lastUsedAt: new Date(Date.now() - 3_600_000) }).where(eq(apiKeys.id, k.id));
    await request(stack.app).get('/v1/connections').set(k.auth).expect(200);
    const listed = await request(stack.app).get('/v1/api-keys').set(t.auth).expect(200);
    const shown = listed.body.data.find((x: { id: string }) => x.id === k.id);
    expect(Date.now() - Date.parse(shown.lastUsedAt)).toBeLessThan(60_000);
  });

  it('a revoked key gets 401 at once; another tenant cannot revoke it', async () => {
    const t = await stack.createTenant();
    const other = await stack.createTenant();
    const k = await secondKey(t.auth, 'full');
    await request(stack.app).get('/v1/tenants/me').set(k.auth).expect(200);
    await request(stack.app).delete(`/v1/api-keys/${k.id}`).set(other.auth).expect(404);
    await request(stack.app).get('/v1/tenants/me').set(k.auth).expect(200);

    const revoked = await request(stack.app).delete(`/v1/api-keys/${k.id}`).set(t.auth).expect(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    const refused = await request(stack.app).get('/v1/tenants/me').set(k.auth);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    await request(stack.app).get('/v1/tenants/me').set(t.auth).expect(200);
  });

  it('refuses to revoke the last active full-scope key (a read key does not count)', async () => {
    const t = await stack.createTenant();
    await secondKey(t.auth, 'read');
    const [first] = (await request(stack.app).get('/v1/api-keys').set(t.auth).expect(200)).body.data;
    const res = await request(stack.app).delete(`/v1/api-keys/${first.id}`).set(t.auth).expect(409);
    expect(res.body.error.message).toContain('last active full-scope key');
    await request(stack.app).get('/v1/tenants/me').set(t.auth).expect(200);

    // Two concurrent revocations of the last two full keys: exactly one wins.
    const second = await secondKey(t.auth, 'full');
    const results = await Promise.all([
      request(stack.app).delete(`/v1/api-keys/${first.id}`).set(second.auth),
      request(stack.app).delete(`/v1/api-keys/${second.id}`).set(t.auth),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it('a read-scope key reads, and gets 403 insufficient_scope on every write route of the API', async () => {
    const t = await stack.createTenant();
    const reader = await secondKey(t.auth, 'read');
    await request(stack.app).get('/v1/connections').set(reader.auth).expect(200);
    await request(stack.app).get('/v1/api-keys').set(reader.auth).expect(200);
    await request(stack.app).get('/v1/audit-events').set(reader.auth).expect(200);
    await request(stack.app).post('/v1/routing/simulate').set(reader.auth).send({ amount: 100, currency: 'EUR', country: 'DE' }).expect(200);

    // Every operation the OpenAPI document lists as needing a full key, current routers and future ones.
    const spec = (await request(stack.app).get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, Operation>> };
    const writes = Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.some((s) => s.tenantApiKey?.includes('full')))
        .map(([method, op]) => ({ method, path: p.replace(/\{[^}]+\}/g, 'x_1'), op })),
    );
    expect(writes.map((w) => w.method)).toEqual(expect.arrayContaining(['post', 'patch', 'put', 'delete']));
    expect(writes.filter((w) => w.method === 'get')).toEqual([]);
    for (const w of writes) {
      const res = await request(stack.app)[w.method as 'post'](w.path).set(reader.auth).set('Idempotency-Key', 'k-1').send({});
      expect({ route: `${w.method} ${w.path}`, status: res.status, code: res.body.error?.code }).toEqual({
        route: `${w.method} ${w.path}`,
        status: 403,
        code: 'insufficient_scope',
      });
    }
    // A read key cannot mint itself a full key.
    await request(stack.app).post('/v1/api-keys').set(reader.auth).send({ name: 'escalate', scope: 'full' }).expect(403);
  });
});
