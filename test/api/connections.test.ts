import { execFileSync } from 'node:child_process';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { connections } from '../../src/db/schema.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

const GOOD_KEY = 'sk_test_good_key_4f9a1c2e7b';
const WEBHOOK_SECRET = 'whsec_super_secret_webhook_value';

let stack: TestStack;
let stripe: RunningStripeEmulator;

beforeAll(async () => {
  stripe = await startStripeEmulator({ apiKeys: [GOOD_KEY, 'sk_test_rotated_key_88'] });
  stack = await startTestStack({ providers: [createStripeProviderFactory({ apiUrl: stripe.url })] });
});
afterAll(async () => {
  await stack?.close();
  await stripe?.close();
});

function createConnection(auth: Record<string, string>, overrides: Record<string, unknown> = {}) {
  return request(stack.app)
    .post('/v1/connections')
    .set(auth)
    .send({ provider: 'stripe', code: `stripe-${Math.random().toString(36).slice(2, 8)}`, name: 'Stripe EU', credentials: { secretKey: GOOD_KEY, webhookSecret: WEBHOOK_SECRET }, ...overrides });
}

describe('tenants', () => {
  it('creating a tenant needs the admin token', async () => {
    const none = await request(stack.app).post('/v1/tenants').send({ name: 'x' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await request(stack.app).post('/v1/tenants').set('Authorization', 'Bearer nope').send({ name: 'x' });
    expect(wrong.status).toBe(401);
  });

  it('returns the API key once and stores only its hash', async () => {
    const tenant = await stack.createTenant('Hash check');
    const me = await request(stack.app).get('/v1/tenants/me').set(tenant.auth).expect(200);
    expect(me.body.id).toBe(tenant.id);
    const dump = await stack.database.db.execute(`select key_hash, prefix from api_keys where tenant_id = '${tenant.id}'` as never);
    expect(JSON.stringify(dump)).not.toContain(tenant.apiKey);
  });

  it('rejects an unknown API key', async () => {
    const res = await request(stack.app).get('/v1/connections').set('Authorization', 'Bearer sy_live_forged');
    expect(res.status).toBe(401);
  });
});

describe('connections', () => {
  it('never echoes credentials, in any response', async () => {
    const t = await stack.createTenant();
    const created = await createConnection(t.auth, { code: 'stripe-main' }).expect(201);
    expect(created.body.credentials).toEqual({ version: 1, keyId: 'test1' });
    const responses = [
      created,
      await request(stack.app).get(`/v1/connections/${created.body.id}`).set(t.auth),
      await request(stack.app).get('/v1/connections').set(t.auth),
      await createConnection(t.auth, { code: 'stripe-main' }), // conflict error
      await request(stack.app).patch(`/v1/connections/${created.body.id}`).set(t.auth).send({ name: 'Renamed' }),
    ];
    expect(responses[3]!.status).toBe(409);
    for (const res of responses) {
      expect(JSON.stringify(res.body)).not.toContain(GOOD_KEY);
      expect(JSON.stringify(res.body)).not.toContain(WEBHOOK_SECRET);
    }
  });

  it("tenant B gets 404 on tenant A's connection, for every verb", async () => {
    const a = await stack.createTenant('A');
    const b = await stack.createTenant('B');
    const { body: conn } = await createConnection(a.auth).expect(201);
    for (const res of [
      await request(stack.app).get(`/v1/connections/${conn.id}`).set(b.auth),
      await request(stack.app).patch(`/v1/connections/${conn.id}`).set(b.auth).send({ name: 'hijack' }),
      await request(stack.app).post(`/v1/connections/${conn.id}/test`).set(b.auth),
      await request(stack.app).get(`/v1/connections/${conn.id}/health`).set(b.auth),
      await request(stack.app).delete(`/v1/connections/${conn.id}`).set(b.auth),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await request(stack.app).get('/v1/connections').set(b.auth)).body.data).toEqual([]);
    expect((await request(stack.app).get(`/v1/connections/${conn.id}`).set(a.auth)).body.name).toBe('Stripe EU');
  });

  it('a tenant id in the body is refused, not obeyed', async () => {
    const a = await stack.createTenant();
    const res = await createConnection(a.auth, { tenantId: 'ten_other' });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: 'body' }));
  });

  it('validation errors name each bad field', async () => {
    const t = await stack.createTenant();
    const res = await request(stack.app).post('/v1/connections').set(t.auth).set('X-Request-Id', 'req-test-42').send({ provider: 'stripe', code: 'Bad Code!', credentials: {} });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.requestId).toBe('req-test-42');
    expect(res.headers['x-request-id']).toBe('req-test-42');
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.code', 'body.name', 'body.credentials']));
  });

  it('credentials must fit the provider, and an unknown provider is named', async () => {
    const t = await stack.createTenant();
    const wrongShape = await createConnection(t.auth, { credentials: { apiKey: 'x' } });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.error.details.map((d: { path: string }) => d.path)).toContain('body.credentials.secretKey');
    const unknown = await createConnection(t.auth, { provider: 'nopay' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].message).toContain('stripe');
  });

  it('a malformed JSON body gets the common error shape', async () => {
    const t = await stack.createTenant();
    const res = await request(stack.app).post('/v1/connections').set(t.auth).set('Content-Type', 'application/json').send('{"provider":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
    expect(res.body.error.requestId).toMatch(/^req_/);
  });

  it('the connection test runs as a Temporal workflow, tagged with the tenant', async () => {
    const t = await stack.createTenant();
    const { body: conn } = await createConnection(t.auth).expect(201);
    const res = await request(stack.app).post(`/v1/connections/${conn.id}/test`).set(t.auth).expect(200);
    expect(res.body).toMatchObject({ status: 'completed', ok: true, connectionId: conn.id });
    const description = await stack.temporal.workflow.getHandle(res.body.workflowId).describe();
    expect(description.type).toBe('connectionTestWorkflow');
    expect(description.status.name).toBe('COMPLETED');
    recordHistoryIfAsked(res.body.workflowId, 'connection-test-ok');
    expect(description.searchAttributes.TenantId).toEqual([t.id]);
    const history = JSON.stringify(await stack.temporal.workflow.getHandle(res.body.workflowId).fetchHistory());
    expect(history).not.toContain(GOOD_KEY);
  });

  it('a refused key fails the test with a typed reason; rotating the key fixes it', async () => {
    const t = await stack.createTenant();
    const { body: conn } = await createConnection(t.auth, { credentials: { secretKey: 'sk_test_revoked_key' } }).expect(201);
    const bad = await request(stack.app).post(`/v1/connections/${conn.id}/test`).set(t.auth).expect(200);
    expect(bad.body).toMatchObject({ ok: false, error: { code: 'InvalidCredentials' } });
    expect(JSON.stringify(bad.body)).not.toContain('sk_test_revoked_key');
    const patched = await request(stack.app).patch(`/v1/connections/${conn.id}`).set(t.auth).send({ credentials: { secretKey: 'sk_test_rotated_key_88' } }).expect(200);
    expect(patched.body.credentials.version).toBe(2);
    const good = await request(stack.app).post(`/v1/connections/${conn.id}/test`).set(t.auth).expect(200);
    expect(good.body.ok).toBe(true);
  });

  it('tampered or moved ciphertexts fail closed', async () => {
    const a = await stack.createTenant();
    const b = await stack.createTenant();
    const { body: connA } = await createConnection(a.auth).expect(201);
    const { body: connB } = await createConnection(b.auth, { credentials: { secretKey: 'sk_test_rotated_key_88' } }).expect(201);
    const db = stack.database.db;
    const [rowA] = await db.select().from(connections).where(eq(connections.id, connA.id));
    // Move A's ciphertext onto B's row: same key, but bound to another tenant and connection.
    await db.update(connections).set({ credentialsCiphertext: rowA!.credentialsCiphertext, credentialsVersion: 9 }).where(eq(connections.id, connB.id));
    const moved = await request(stack.app).post(`/v1/connections/${connB.id}/test`).set(b.auth).expect(200);
    expect(moved.body).toMatchObject({ ok: false, error: { code: 'CredentialsUndecryptable' } });
    // Flip one byte of A's own ciphertext.
    const tampered = Buffer.from(rowA!.credentialsCiphertext);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0xff;
    await db.update(connections).set({ credentialsCiphertext: tampered, credentialsVersion: 9 }).where(eq(connections.id, connA.id));
    const flipped = await request(stack.app).post(`/v1/connections/${connA.id}/test`).set(a.auth).expect(200);
    expect(flipped.body).toMatchObject({ ok: false, error: { code: 'CredentialsUndecryptable' } });
  });

  it('a database dump contains no credential in plain text', async () => {
    const t = await stack.createTenant();
    const marker = 'sk_test_dumpcheck_7c1f0e9d5a';
    await createConnection(t.auth, { credentials: { secretKey: marker, webhookSecret: 'whsec_dumpcheck_b7e1' } }).expect(201);
    const dump = execFileSync('pg_dump', ['--data-only', inject('databaseUrl')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(dump).toContain('connections');
    expect(dump).not.toContain(marker);
    expect(dump).not.toContain('whsec_dumpcheck_b7e1');
  });

  it('deleting a connection removes it', async () => {
    const t = await stack.createTenant();
    const { body: conn } = await createConnection(t.auth).expect(201);
    await request(stack.app).delete(`/v1/connections/${conn.id}`).set(t.auth).expect(204);
    await request(stack.app).get(`/v1/connections/${conn.id}`).set(t.auth).expect(404);
  });
});
