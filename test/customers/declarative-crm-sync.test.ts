/**
 * A second system with no engine code: the Nimbus CRM (providers/democrm.yaml, emulators/crm) synced
 * by the same customer workflow as Stripe, with the real Temporal dev server and Postgres.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCrmWebhook, startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import {
  createDeclarativeProviderFactory,
  loadProviderDefinitionFile,
} from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { eventually, setUpSyncTenant, startCustomersFixture, type CustomersFixture } from '../support/customers-fixture.js';

let f: CustomersFixture;
let crm: CrmEmulator;

beforeAll(async () => {
  crm = await startCrmEmulator();
  const definition = await loadProviderDefinitionFile('providers/democrm.yaml');
  f = await startCustomersFixture({
    extraProviders: [createDeclarativeProviderFactory(definition, { fetch: createEgressFetch({ allowPrivateNetworks: true }) })],
  });
});
afterAll(async () => {
  await f?.close();
  await crm?.close();
});

interface CrmTenant {
  tenantId: string;
  auth: { Authorization: string };
  connectionId: string;
  token: string;
  webhookSecret: string;
}

/** The CRM's own API, as a user of the CRM would call it (the "other side"). */
async function crmApi(
  t: { token: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${crm.url}/api/v2${path}`, {
    method,
    headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A CRM connection with customer sync on and a webhook subscription pointing at its webhook URL. */
async function setUpCrmTenant(
  tenant?: { id: string; auth: { Authorization: string } },
  provider = 'democrm',
): Promise<CrmTenant> {
  const t = tenant ?? (await f.stack.createTenant());
  const token = `crm_${randomBytes(8).toString('hex')}`;
  const conn = await request(f.stack.app)
    .post('/v1/connections')
    .set(t.auth)
    .send({
      provider,
      code: 'crm',
      name: 'Nimbus CRM',
      credentials: { apiToken: token },
      settings: { baseUrl: crm.url, customerSync: { enabled: true } },
    })
    .expect(201);
  const hook = await crmApi({ token }, 'POST', '/webhooks', {
    url: `${f.baseUrl}/v1/webhooks/${conn.body.id}`,
  });
  const webhookSecret = (hook.body['webhook'] as { signing_secret: string }).signing_secret;
  await request(f.stack.app)
    .patch(`/v1/connections/${conn.body.id}`)
    .set(t.auth)
    .send({ credentials: { apiToken: token, webhookSecret } })
    .expect(200);
  return { tenantId: t.id, auth: t.auth, connectionId: conn.body.id, token, webhookSecret };
}

type Auth = { auth: { Authorization: string } };

async function createCustomer(t: Auth, body: object): Promise<{ id: string; version: number }> {
  const res = await request(f.stack.app)
    .post('/v1/customers')
    .set(t.auth)
    .set('Idempotency-Key', randomBytes(8).toString('hex'))
    .send(body)
    .expect(201);
  return res.body as { id: string; version: number };
}

async function getCustomer(t: Auth, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}`).set(t.auth).expect(200)).body as Record<
    string,
    unknown
  > & { version: number; deleted: boolean; name: string | null };
}

async function syncOf(t: Auth, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}/sync`).set(t.auth).expect(200)).body as {
    systems: {
      connectionId: string;
      remoteSystem: string;
      remoteId: string | null;
      state: string;
      lastSyncedVersion: number;
    }[];
  };
}

/** The remote id at `connectionId` once the customer is in sync there at `version` (or any). */
async function syncedAt(t: Auth, id: string, connectionId: string, version?: number): Promise<string> {
  return eventually(`customer ${id} in sync at ${connectionId}${version ? ` v${version}` : ''}`, async () => {
    const s = await syncOf(t, id);
    const m = s.systems.find((x) => x.connectionId === connectionId);
    if (!m?.remoteId || m.state !== 'in_sync' || (version !== undefined && m.lastSyncedVersion < version))
      return undefined;
    return m.remoteId;
  });
}

/** Writes the platform sent to this CRM account (not GETs). */
const crmWrites = (t: CrmTenant) =>
  crm
    .requests()
    .filter((r) => r.account === t.token && r.method !== 'GET' && r.path.startsWith('/api/v2/contacts'));
const settle = () => new Promise((r) => setTimeout(r, 1500));

describe('a declarative CRM as a second system', () => {
  it('creates a customer made locally in the CRM, nested and linked by external_ref; an update sends only the changed mapped fields', async () => {
    const t = await setUpCrmTenant();
    const c = await createCustomer(t, {
      email: 'ada@example.com',
      name: 'Ada',
      address: { line1: '1 Main St', city: 'London', country: 'GB' },
      metadata: { tier: 'gold' },
    });
    const remoteId = await syncedAt(t, c.id, t.connectionId, 1);
    expect(crm.contact(t.token, remoteId)).toMatchObject({
      external_ref: c.id,
      full_name: 'Ada',
      emails: [{ value: 'ada@example.com' }],
      postal_address: { street_lines: ['1 Main St'], city: 'London', country_code: 'GB' },
      custom_fields: { tier: 'gold' },
    });

    await request(f.stack.app)
      .patch(`/v1/customers/${c.id}`)
      .set(t.auth)
      .send({ phone: '+44 1' })
      .expect(200);
    await syncedAt(t, c.id, t.connectionId, 2);
    const put = crmWrites(t).filter((r) => r.method === 'PUT');
    expect(put.map((r) => r.body)).toEqual([{ contact: { phones: [{ number: '+44 1' }] } }]);
    expect(put[0]!.idempotencyKey).toBe(`${c.id}-v2-${t.connectionId}`);
    expect(crm.contact(t.token, remoteId)).toMatchObject({ full_name: 'Ada', phones: [{ number: '+44 1' }] });
  });

  it('suppresses echoes: the CRM webhooks for our own writes change nothing and cause no further call', async () => {
    const t = await setUpCrmTenant();
    const c = await createCustomer(t, { email: 'echo@example.com', name: 'Echo' });
    await syncedAt(t, c.id, t.connectionId, 1);
    await request(f.stack.app)
      .patch(`/v1/customers/${c.id}`)
      .set(t.auth)
      .send({ name: 'Echo 2' })
      .expect(200);
    await syncedAt(t, c.id, t.connectionId, 2);
    await crm.webhooksIdle();
    await settle();
    const delivered = crm
      .deliveries()
      .filter((d) => d.url.endsWith(t.connectionId) && d.state === 'delivered');
    expect(delivered.map((d) => d.eventType).sort()).toEqual(['contact.created', 'contact.updated']);
    expect((await getCustomer(t, c.id)).version).toBe(2);
    expect(crmWrites(t).map((r) => `${r.method} ${r.idempotencyKey}`)).toEqual([
      `POST ${c.id}-v1-${t.connectionId}`,
      `PUT ${c.id}-v2-${t.connectionId}`,
    ]);
  });

  it('creates a local customer from a signed CRM webhook, carries CRM edits back, and a CRM delete tombstones it locally', async () => {
    const t = await setUpCrmTenant();
    const created = await crmApi(t, 'POST', '/contacts', {
      contact: {
        full_name: 'Born in CRM',
        emails: [{ value: 'born@crm.test', primary: true }],
        custom_fields: { source: 'fair' },
      },
    });
    const remoteId = (created.body['contact'] as { id: string }).id;
    const local = await eventually('the local twin', async () => {
      const list = await request(f.stack.app)
        .get('/v1/customers')
        .query({ email: 'born@crm.test' })
        .set(t.auth)
        .expect(200);
      return list.body.data[0] as { id: string; name: string; metadata: Record<string, string> } | undefined;
    });
    expect(local).toMatchObject({ name: 'Born in CRM', metadata: { source: 'fair' } });
    expect(await syncedAt(t, local.id, t.connectionId)).toBe(remoteId);

    await crmApi(t, 'PUT', `/contacts/${remoteId}`, {
      contact: { full_name: 'Renamed in CRM', postal_address: { city: 'Oslo' } },
    });
    await eventually('the rename', async () => {
      const c = await getCustomer(t, local.id);
      return c.name === 'Renamed in CRM' && (c['address'] as { city?: string } | null)?.city === 'Oslo'
        ? true
        : undefined;
    });
    expect((await crmApi(t, 'DELETE', `/contacts/${remoteId}`)).status).toBe(204);
    await eventually('the tombstone', async () =>
      (await getCustomer(t, local.id)).deleted ? true : undefined,
    );
    await settle();
    expect(crmWrites(t).filter((r) => r.idempotencyKey?.startsWith('cust_'))).toEqual([]);
  });

  it('carries a local delete to the CRM as an archived contact (410 Gone)', async () => {
    const t = await setUpCrmTenant();
    const c = await createCustomer(t, { name: 'Short-lived' });
    const remoteId = await syncedAt(t, c.id, t.connectionId, 1);
    await request(f.stack.app).delete(`/v1/customers/${c.id}`).set(t.auth).expect(200);
    await syncedAt(t, c.id, t.connectionId, 2);
    expect(crm.contact(t.token, remoteId)?.archived_at).toEqual(expect.any(String));
    expect((await crmApi(t, 'GET', `/contacts/${remoteId}`)).status).toBe(410);
  });

  it('refuses a webhook with a bad signature: 400, nothing stored, nothing changed', async () => {
    const t = await setUpCrmTenant();
    const c = await createCustomer(t, { name: 'Guarded' });
    const remoteId = await syncedAt(t, c.id, t.connectionId, 1);
    const forged = JSON.stringify({
      event_id: 'evt_forged',
      event_type: 'contact.deleted',
      occurred_at: new Date().toISOString(),
      contact: { id: remoteId, external_ref: c.id },
    });
    const endpoint = `${f.baseUrl}/v1/webhooks/${t.connectionId}`;
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...signCrmWebhook(forged, 'crmsig_not_the_secret') },
      body: forged,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('webhook_signature_invalid');
    const unsigned = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: forged,
    });
    expect(unsigned.status).toBe(400);
    // The same body correctly signed is accepted (so the refusal above was the signature's doing).
    const signed = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...signCrmWebhook(forged, t.webhookSecret) },
      body: forged,
    });
    expect(signed.status).toBe(200);
    await settle();
    // The signed claim made the workflow re-read the contact, which is not deleted: nothing changed.
    expect(await getCustomer(t, c.id)).toMatchObject({ deleted: false, version: 1 });
  });

  it("respects the CRM's 429: retried no sooner than Retry-After, same idempotency key, one contact", async () => {
    const t = await setUpCrmTenant();
    crm.failNext({ status: 429, retryAfter: '3', method: 'POST', pathPrefix: '/api/v2/contacts' });
    const c = await createCustomer(t, { name: 'Throttled' });
    await syncedAt(t, c.id, t.connectionId, 1);
    const creates = crm
      .requests()
      .filter((r) => r.account === t.token && r.method === 'POST' && r.path === '/api/v2/contacts');
    expect(creates.map((r) => r.status)).toEqual([429, 201]);
    expect(creates[0]!.idempotencyKey).toBe(creates[1]!.idempotencyKey);
    expect(creates[1]!.at - creates[0]!.at).toBeGreaterThanOrEqual(2900);
    expect(crm.contacts(t.token)).toHaveLength(1);
  });

  it('recovers a change whose webhook was missed from the change feed (POST /v1/connections/:id/sync)', async () => {
    const t = await setUpCrmTenant();
    const c = await createCustomer(t, { name: 'Seen' });
    const remoteId = await syncedAt(t, c.id, t.connectionId, 1);
    await crm.webhooksIdle();
    // The connection's hourly reconcile fires on the hour: it must not be what recovers the change.
    await f.stack.temporal.schedule.getHandle(workflowId.customerReconcileSchedule(t.connectionId)).pause('test');
    // The connect-time backfill (same workflow id) must be over, or the sync below would join it.
    await f.stack.temporal.workflow.getHandle(`customer-reconcile-${t.connectionId}`).result();
    // A first run reads the feed from the backfill's cursor: it hands our own create to the workflow
    // (the CRM's feed carries no idempotency key; the workflow re-reads the contact and finds it equal
    // to what it pushed); let that finish, or the re-read would already see the change made below.
    await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).set(t.auth).expect(200);
    await settle();
    crm.pauseWebhooks();
    try {
      await crmApi(t, 'PUT', `/contacts/${remoteId}`, {
        contact: { full_name: 'Changed while webhooks were lost' },
      });
      await settle();
      expect((await getCustomer(t, c.id)).name).toBe('Seen');
      const res = await request(f.stack.app)
        .post(`/v1/connections/${t.connectionId}/sync`)
        .set(t.auth)
        .expect(200);
      // Only the missed edit: the first run's cursor is past our create.
      expect(res.body).toMatchObject({ status: 'completed', changes: 1 });
      await eventually('the missed change', async () =>
        (await getCustomer(t, c.id)).name === 'Changed while webhooks were lost' ? true : undefined,
      );
    } finally {
      crm.resumeWebhooks();
    }
  });

  it('syncs one customer to Stripe and to the CRM on the same tenant: two mappings, no collision, changes flow across', async () => {
    const s = await setUpSyncTenant(f);
    const t = await setUpCrmTenant({ id: s.tenantId, auth: s.auth });
    const c = await createCustomer(s, { email: 'both@example.com', name: 'Both' });
    const stripeId = await syncedAt(s, c.id, s.connectionId, 1);
    const crmId = await syncedAt(s, c.id, t.connectionId, 1);
    expect(stripeId).toMatch(/^cus_/);
    expect(crmId).toMatch(/^ctc_/);
    const sync = await syncOf(s, c.id);
    expect(sync.systems.map((m) => m.remoteSystem).sort()).toEqual(['democrm', 'stripe']);

    // A change made in the CRM reaches the local row and, from there, Stripe.
    await crmApi(t, 'PUT', `/contacts/${crmId}`, { contact: { full_name: 'Both, renamed in CRM' } });
    await eventually('the rename at Stripe', async () =>
      ((await s.sdk.customers.retrieve(stripeId)) as { name?: string }).name === 'Both, renamed in CRM'
        ? true
        : undefined,
    );
    expect((await getCustomer(s, c.id)).name).toBe('Both, renamed in CRM');
    // A change made at Stripe reaches the CRM the same way.
    await s.sdk.customers.update(stripeId, { phone: '+1 555' });
    await eventually('the phone in the CRM', async () =>
      crm.contact(t.token, crmId)?.phones[0]?.number === '+1 555' ? true : undefined,
    );
    await crm.webhooksIdle();
    await f.stripe.webhooksIdle();
    await settle();
    // Still exactly one record on each side.
    expect(crm.contacts(t.token)).toHaveLength(1);
    expect((await s.sdk.customers.list({ limit: 100 })).data).toHaveLength(1);

    // A CRM contact whose id is the Stripe customer's id is another customer: mappings are per connection.
    crm.useNextId(stripeId);
    await crmApi(t, 'POST', '/contacts', { contact: { full_name: 'Same id, other system' } });
    const twin = await eventually('the CRM-born customer', async () => {
      const list = await request(f.stack.app).get('/v1/customers').set(s.auth).expect(200);
      return (list.body.data as { id: string; name: string }[]).find(
        (x) => x.name === 'Same id, other system',
      );
    });
    expect(twin.id).not.toBe(c.id);
    expect(await syncedAt(s, twin.id, t.connectionId)).toBe(stripeId);
    const twinAtStripe = await syncedAt(s, twin.id, s.connectionId);
    expect(twinAtStripe).not.toBe(stripeId);
    expect((await getCustomer(s, c.id)).name).toBe('Both, renamed in CRM');
    expect(((await s.sdk.customers.retrieve(stripeId)) as { name?: string }).name).toBe(
      'Both, renamed in CRM',
    );
  });

  it("works as a tenant's own provider too: PUT /v1/providers/:name validates the customerSync section and the connection syncs", async () => {
    const tenant = await f.stack.createTenant();
    const own = { ...(await loadProviderDefinitionFile('providers/democrm.yaml')), name: 'mycrm' };
    const broken = structuredClone(own);
    broken.customerSync!.fields.email = 'emails[0]..value';
    broken.customerSync!.endpoints.update.path = '/contacts/{{reference}}';
    const refused = await request(f.stack.app)
      .put('/v1/providers/mycrm')
      .set(tenant.auth)
      .send(broken)
      .expect(400);
    const paths = (refused.body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(['body.customerSync.fields.email', 'body.customerSync.endpoints.update.path']),
    );
    await request(f.stack.app).put('/v1/providers/mycrm').set(tenant.auth).send(own).expect(200);

    const t = await setUpCrmTenant(tenant, 'mycrm');
    const c = await createCustomer(t, { email: 'own@example.com', name: 'Own provider' });
    const remoteId = await syncedAt(t, c.id, t.connectionId, 1);
    expect(crm.contact(t.token, remoteId)).toMatchObject({ external_ref: c.id, full_name: 'Own provider' });
  });

  it('takes no payment: routing skips a CRM connection even when a rule lists it, and says why', async () => {
    const t = await setUpCrmTenant();
    await request(f.stack.app)
      .put('/v1/routing/rules')
      .set(t.auth)
      .send({ rules: [{ name: 'all', priority: 1, connectionIds: [t.connectionId] }] })
      .expect(200);
    const sim = await request(f.stack.app)
      .post('/v1/routing/simulate')
      .set(t.auth)
      .send({ amount: 100, currency: 'EUR', country: 'DE' })
      .expect(200);
    expect(sim.body.candidates).toEqual([]);
    expect(sim.body.skipped).toEqual([
      expect.objectContaining({
        connectionId: t.connectionId,
        reason: expect.stringContaining('does not support currency EUR'),
      }),
    ]);
  });

  it('a CRM edit we had not heard of is merged before our push: remote_wins keeps it and records the conflict, another field edited there arrives', async () => {
    // No webhook subscription: the CRM edit reaches us only when the push reads the contact.
    const t = await f.stack.createTenant();
    const token = `crm_${randomBytes(8).toString('hex')}`;
    const conn = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({
        provider: 'democrm',
        code: 'crm',
        name: 'Nimbus CRM',
        credentials: { apiToken: token },
        settings: { baseUrl: crm.url, customerSync: { enabled: true, fieldPolicies: { phone: 'remote_wins' } } },
      })
      .expect(201);
    const c = await createCustomer(t, { email: 'rw@crm.test', name: 'Lin', phone: '+1 1' });
    const remoteId = await syncedAt(t, c.id, conn.body.id, 1);
    const edited = await crmApi({ token }, 'PUT', `/contacts/${remoteId}`, { contact: { phones: [{ number: '+1 222' }], full_name: 'Lin at CRM' } });
    expect(edited.status).toBe(200);
    await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ phone: '+1 333' }).expect(200);

    const local = await eventually('the CRM edit locally', async () => {
      const row = await getCustomer(t, c.id);
      return row.phone === '+1 222' && row.name === 'Lin at CRM' ? row : undefined;
    });
    await syncedAt(t, c.id, conn.body.id, local.version);
    expect(crm.contact(token, remoteId)).toMatchObject({ full_name: 'Lin at CRM', phones: [{ number: '+1 222' }] });
    const conflicts = (await request(f.stack.app).get(`/v1/customers/${c.id}/sync`).set(t.auth).expect(200)).body.conflicts as unknown[];
    expect(conflicts).toEqual([expect.objectContaining({ field: 'phone', localValue: '+1 333', remoteValue: '+1 222', policy: 'remote_wins', decision: 'remote' })]);
  });
});
