import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const SECRET_KEY = 'sk_test_audit_secret_3e9f';
const NEW_SECRET_KEY = 'sk_test_audit_rotated_77c1';
const WEBHOOK_SECRET = 'whsec_audit_secret_5d2a';

let stack: TestStack;
let stripe: RunningStripeEmulator;
beforeAll(async () => {
  stripe = await startStripeEmulator({ apiKeys: [SECRET_KEY, NEW_SECRET_KEY] });
  stack = await startTestStack({ providers: [createStripeProviderFactory({ apiUrl: stripe.url })], startWorker: false });
});
afterAll(async () => {
  await stack?.close();
  await stripe?.close();
});

interface AuditEvent {
  id: string;
  actor: { type: string; id: string | null };
  action: string;
  resourceType: string;
  resourceId: string;
  changes: { before?: Record<string, unknown>; after?: Record<string, unknown>; fields?: string[] };
  createdAt: string;
}

async function allEvents(auth: Record<string, string>, query = ''): Promise<AuditEvent[]> {
  const res = await request(stack.app).get(`/v1/audit-events?limit=200${query}`).set(auth).expect(200);
  return res.body.data as AuditEvent[];
}

describe('audit log', () => {
  it('records every change to tenants, keys, connections, providers and routing rules, with who and no secret', async () => {
    const t = await stack.createTenant('Audited');
    const me = (await request(stack.app).get('/v1/api-keys').set(t.auth).expect(200)).body.data[0];
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'stripe', code: 'stripe-audit', name: 'Stripe', credentials: { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } })
      .expect(201);
    await request(stack.app).patch(`/v1/connections/${conn.body.id}`).set(t.auth).send({ name: 'Renamed', credentials: { secretKey: NEW_SECRET_KEY } }).expect(200);
    // A refused change leaves no trace.
    await request(stack.app).post('/v1/connections').set(t.auth).send({ provider: 'stripe', code: 'stripe-audit', name: 'dup', credentials: { secretKey: SECRET_KEY } }).expect(409);
    await request(stack.app)
      .put('/v1/routing/rules')
      .set(t.auth)
      .send({ rules: [{ name: 'all', priority: 1, conditions: {}, connectionIds: [conn.body.id] }] })
      .expect(200);
    const definition = { ...(parseYaml(readFileSync('providers/acmepay.yaml', 'utf8')) as Record<string, unknown>), name: 'auditpay' };
    await request(stack.app).put('/v1/providers/auditpay').set(t.auth).send(definition).expect(200);
    await request(stack.app).put('/v1/providers/auditpay').set(t.auth).send({ ...definition, displayName: 'Audit Pay 2' }).expect(200);
    await request(stack.app).delete('/v1/providers/auditpay').set(t.auth).expect(204);
    const key = await request(stack.app).post('/v1/api-keys').set(t.auth).send({ name: 'reporting', scope: 'read' }).expect(201);
    await request(stack.app).delete(`/v1/api-keys/${key.body.key.id}`).set(t.auth).expect(200);
    await request(stack.app).delete(`/v1/connections/${conn.body.id}`).set(t.auth).expect(204);

    const events = await allEvents(t.auth);
    expect(events.map((e) => e.action).reverse()).toEqual([
      'tenant.created',
      'api_key.created',
      'connection.created',
      'connection.updated',
      'routing_rules.replaced',
      'provider.created',
      'provider.updated',
      'provider.deleted',
      'api_key.created',
      'api_key.revoked',
      'connection.deleted',
    ]);
    const byAction = (a: string) => events.find((e) => e.action === a)!;
    expect(byAction('tenant.created')).toMatchObject({ actor: { type: 'admin', id: null }, resourceType: 'tenant', resourceId: t.id });
    for (const e of events.filter((x) => x.actor.type !== 'admin')) expect(e.actor).toEqual({ type: 'api_key', id: me.id });
    const updated = byAction('connection.updated');
    expect(updated).toMatchObject({ resourceType: 'connection', resourceId: conn.body.id, changes: { fields: ['credentials', 'name', 'updatedAt'] } });
    expect(updated.changes.before).toMatchObject({ name: 'Stripe', credentials: { version: 1 } });
    expect(updated.changes.after).toMatchObject({ name: 'Renamed', credentials: { version: 2 } });
    expect(byAction('provider.updated').changes.fields).toEqual(['definition']);
    expect(byAction('routing_rules.replaced').changes.after).toMatchObject({ rules: [{ name: 'all', connectionIds: [conn.body.id] }] });
    expect(byAction('api_key.revoked')).toMatchObject({ resourceId: key.body.key.id, changes: { fields: ['revokedAt'] } });

    const dump = JSON.stringify(events);
    for (const secret of [SECRET_KEY, NEW_SECRET_KEY, WEBHOOK_SECRET, t.apiKey, key.body.apiKey]) expect(dump).not.toContain(secret);
  });

  it('pages with a cursor, filters by resource type and time, and shows a tenant only its own entries', async () => {
    const t = await stack.createTenant();
    const other = await stack.createTenant();
    for (let i = 0; i < 3; i++) await request(stack.app).post('/v1/api-keys').set(t.auth).send({ name: `k${i}`, scope: 'read' }).expect(201);
    const all = await allEvents(t.auth);
    expect(all).toHaveLength(5); // tenant, first key, three keys

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(stack.app)
        .get(`/v1/audit-events?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set(t.auth)
        .expect(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((e: AuditEvent) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((e) => e.id));

    const keysOnly = await allEvents(t.auth, '&resourceType=api_key');
    expect(keysOnly).toHaveLength(4);
    expect(await allEvents(t.auth, `&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
    expect((await allEvents(t.auth, `&since=${encodeURIComponent(all.at(-1)!.createdAt)}`)).length).toBe(5);

    const theirs = await allEvents(other.auth);
    expect(theirs.every((e) => e.resourceId !== t.id && !all.some((a) => a.id === e.id))).toBe(true);
    const bad = await request(stack.app).get('/v1/audit-events?cursor=abc').set(t.auth).expect(400);
    expect(bad.body.error.details[0].path).toBe('query.cursor');
  });
});
