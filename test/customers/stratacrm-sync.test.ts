/**
 * Strata CRM (emulators/stratacrm), a CRM nobody here tuned for, connected by its definition file alone
 * (test/fixtures/providers/stratacrm.yaml): nested person records, OAuth2 refresh-token grant whose
 * refresh token rotates (stored back into the connection), a list paged by next URL, and webhooks
 * that carry only an event type and a person id, so the engine fetches the record on notify. Faults:
 * an access token expiring mid-run, 429 with and without Retry-After, 500 bursts, duplicate and
 * out-of-order deliveries. Real Temporal dev server and Postgres.
 */
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStrataCrmEmulator, type StrataCrmEmulator } from '../../emulators/stratacrm/emulator.js';
import { connections } from '../../src/db/schema.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { eventually, startCustomersFixture, type CustomersFixture } from '../support/customers-fixture.js';

let f: CustomersFixture;
let crm: StrataCrmEmulator;

describe('Strata CRM connected by its definition alone', () => {
  beforeAll(async () => {
    crm = await startStrataCrmEmulator({ retryBaseMs: 50 });
    const definition = await loadProviderDefinitionFile('test/fixtures/providers/stratacrm.yaml');
    f = await startCustomersFixture({
      extraProviders: [createDeclarativeProviderFactory(definition, { fetch: createEgressFetch({ allowPrivateNetworks: true }) })],
    });
  });
  afterAll(async () => {
    await f?.close();
    await crm?.close();
  });

  interface Tenant {
    auth: { Authorization: string };
    connectionId: string;
    clientId: string;
    clientSecret: string;
  }
  interface Run {
    id: string;
    trigger: string;
    status: string;
    imported: number;
  }

  const runsOf = async (t: Tenant) => (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs`).set(t.auth).expect(200)).body.data as Run[];

  /** The connection's credentials as stored (sealed) in Postgres, opened. */
  async function storedCredentials(t: Tenant): Promise<{ version: number; credentials: Record<string, string> }> {
    const [row] = await f.stack.database.db.select().from(connections).where(eq(connections.id, t.connectionId));
    return { version: row!.credentialsVersion, credentials: f.stack.cipher.open({ keyId: row!.credentialsKeyId, ciphertext: row!.credentialsCiphertext }, row!.tenantId, row!.id) };
  }

  /** A Strata connection with sync on; with `webhooks`, a subscription pointing at its webhook URL. */
  async function setUpTenant(opts: { webhooks?: boolean } = {}): Promise<Tenant> {
    const t = await f.stack.createTenant();
    const { clientId, clientSecret, refreshToken } = crm.addClient();
    const conn = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({
        provider: 'stratacrm',
        code: 'crm',
        name: 'Strata',
        credentials: { clientId, clientSecret, refreshToken },
        settings: { baseUrl: crm.url, customerSync: { enabled: true } },
      })
      .expect(201);
    const tenant = { auth: t.auth, connectionId: conn.body.id as string, clientId, clientSecret };
    await eventually('the backfill', async () => ((await runsOf(tenant)).find((r) => r.trigger === 'connect' && r.status === 'completed') ? true : undefined));
    if (opts.webhooks) {
      const webhookSecret = crm.subscribe(clientId, `${f.baseUrl}/v1/webhooks/${tenant.connectionId}`);
      // Credentials are replaced as a whole: the refresh token sent is the live one Strata shows now.
      await request(f.stack.app)
        .patch(`/v1/connections/${tenant.connectionId}`)
        .set(t.auth)
        .send({ credentials: { clientId, clientSecret, refreshToken: crm.refreshTokenOf(clientId), webhookSecret } })
        .expect(200);
    }
    return tenant;
  }

  /** Strata's API as a person using Strata's console calls it (with a token of its own). */
  async function strataApi(t: Tenant, method: string, path: string, body?: unknown) {
    const res = await fetch(`${crm.url}/v3${path}`, {
      method,
      headers: { Authorization: `Bearer ${crm.accessToken(t.clientId)}`, 'Content-Type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  async function createCustomer(t: Tenant, body: object): Promise<{ id: string }> {
    return (await request(f.stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', `k-${Math.random()}`).send(body).expect(201)).body as { id: string };
  }
  const patchCustomer = (t: Tenant, id: string, body: object) => request(f.stack.app).patch(`/v1/customers/${id}`).set(t.auth).send(body).expect(200);
  const getCustomer = async (t: Tenant, id: string) =>
    (await request(f.stack.app).get(`/v1/customers/${id}`).set(t.auth).expect(200)).body as {
      version: number;
      deleted: boolean;
      name: string | null;
      email: string | null;
      phone: string | null;
      description: string | null;
      address: { city: string | null; line1: string | null } | null;
      metadata: Record<string, string>;
    };
  const localByEmail = async (t: Tenant, email: string) =>
    ((await request(f.stack.app).get('/v1/customers').query({ email }).set(t.auth).expect(200)).body.data as { id: string; name: string | null }[])[0];
  const syncOf = async (t: Tenant, id: string) =>
    (await request(f.stack.app).get(`/v1/customers/${id}/sync`).set(t.auth).expect(200)).body as {
      systems: { connectionId: string; remoteId: string | null; state: string; lastSyncedVersion: number; remoteDeleted?: boolean }[];
    };
  const syncedAt = (t: Tenant, id: string, version: number) =>
    eventually(`customer ${id} in sync at v${version}`, async () => {
      const m = (await syncOf(t, id)).systems.find((x) => x.connectionId === t.connectionId);
      return m?.remoteId && m.state === 'in_sync' && m.lastSyncedVersion >= version ? m.remoteId : undefined;
    });
  async function reconcile(t: Tenant): Promise<Run> {
    const before = new Set((await runsOf(t)).map((r) => r.id));
    await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).query({ wait: 0 }).set(t.auth).expect(200);
    return eventually('the reconciliation to end', async () => (await runsOf(t)).find((r) => !before.has(r.id) && r.status !== 'running'), 60_000);
  }
  /** Requests that reached Strata's handlers for one person (faulted ones included). */
  const callsTo = (method: string, remoteId: string) => crm.requestLog().filter((r) => r.method === method && r.path === `/v3/people/${remoteId}`);
  const creates = () => crm.requestLog().filter((r) => r.method === 'POST' && r.path === '/v3/people');

  it('pushes a local customer as a nested person; its update and its delete each land exactly once', async () => {
    const t = await setUpTenant();
    const postsBefore = creates().length;
    const c = await createCustomer(t, { email: 'ada@example.com', name: 'Ada', phone: '+44 1', address: { line1: '1 Analytical St', city: 'London' }, metadata: { tier: 'gold' } });
    const remoteId = await syncedAt(t, c.id, 1);
    expect(crm.person(t.clientId, remoteId)).toMatchObject({
      names: { display: 'Ada' },
      contact_points: { emails: [{ value: 'ada@example.com' }], phones: [{ number: '+44 1' }] },
      postal: { lines: ['1 Analytical St'], locality: 'London' },
      attributes: { labels: { tier: 'gold' } },
      references: { external_id: c.id },
    });
    await patchCustomer(t, c.id, { name: 'Ada Lovelace', description: 'first programmer' });
    await syncedAt(t, c.id, 2);
    expect(crm.person(t.clientId, remoteId)).toMatchObject({ names: { display: 'Ada Lovelace' }, attributes: { notes: 'first programmer', labels: { tier: 'gold' } }, contact_points: { phones: [{ number: '+44 1' }] } });
    await request(f.stack.app).delete(`/v1/customers/${c.id}`).set(t.auth).expect(200);
    await eventually('the remote delete', async () => (crm.person(t.clientId, remoteId) === undefined ? true : undefined));
    await eventually('the delete in sync', async () => ((await syncOf(t, c.id)).systems.find((x) => x.connectionId === t.connectionId)?.state === 'in_sync' ? true : undefined));

    expect(creates().length - postsBefore).toBe(1);
    expect(callsTo('PATCH', remoteId)).toHaveLength(1);
    expect(callsTo('DELETE', remoteId)).toHaveLength(1);
    expect(crm.people(t.clientId)).toHaveLength(0);
  });

  it('webhooks with only a person id: the record is fetched and merged, also duplicated and newest first', async () => {
    const t = await setUpTenant({ webhooks: true });
    const created = await strataApi(t, 'POST', '/people', {
      person: { names: { display: 'Born at Strata' }, contact_points: { emails: [{ value: 'born@strata.test', primary: true }] }, postal: { locality: 'Oslo' } },
    });
    const remoteId = (created.body['person'] as { id: string }).id;
    const local = await eventually('the local twin', () => localByEmail(t, 'born@strata.test'));
    // Nothing but the id came with the webhook: the name and city were read from Strata.
    expect(await getCustomer(t, local.id)).toMatchObject({ name: 'Born at Strata', address: { city: 'Oslo' } });
    expect(callsTo('GET', remoteId).length).toBeGreaterThanOrEqual(1);

    crm.webhookFaults({ duplicate: true, reorderBatch: 2 });
    await strataApi(t, 'PATCH', `/people/${remoteId}`, { person: { names: { display: 'Second' } } });
    await strataApi(t, 'PATCH', `/people/${remoteId}`, { person: { names: { display: 'Third' }, attributes: { notes: 'last' } } });
    await eventually('the latest edit locally', async () => ((await getCustomer(t, local.id)).description === 'last' ? true : undefined));
    crm.webhookFaults({});
    await eventually('every delivery answered', () => (crm.deliveries().every((d) => d.state !== 'pending') ? true : undefined));
    expect(await getCustomer(t, local.id)).toMatchObject({ name: 'Third', description: 'last', address: { city: 'Oslo' } });
    // Nothing of ours went back to Strata for changes that came from it.
    expect(callsTo('PATCH', remoteId)).toHaveLength(2);

    // A change and then the delete, delivered twice each and newest first: the delete wins.
    crm.webhookFaults({ duplicate: true, reorderBatch: 2 });
    await strataApi(t, 'PATCH', `/people/${remoteId}`, { person: { names: { display: 'Fourth' } } });
    expect((await strataApi(t, 'DELETE', `/people/${remoteId}`)).status).toBe(204);
    await eventually('the local tombstone', async () => ((await getCustomer(t, local.id)).deleted ? true : undefined));
    crm.webhookFaults({});
    await eventually('every delivery answered', () => (crm.deliveries().every((d) => d.state !== 'pending') ? true : undefined));
    expect((await getCustomer(t, local.id)).deleted).toBe(true);
    expect(callsTo('DELETE', remoteId)).toHaveLength(1);
  });

  it('an access token expiring mid-run is refreshed once, the rotated refresh token is stored back and used next', async () => {
    const t = await setUpTenant();
    const before = await storedCredentials(t);
    // The backfill's grant already rotated the connection's first refresh token and stored the new one.
    expect(before.credentials['refreshToken']).toBe(crm.refreshTokenOf(t.clientId));
    const grantsBefore = crm.tokenGrants(t.clientId).length;

    crm.expireAccessTokens();
    const c = await createCustomer(t, { email: 'expiry@example.com', name: 'Expiring' });
    const remoteId = await syncedAt(t, c.id, 1);
    const after = await storedCredentials(t);
    expect(crm.tokenGrants(t.clientId).slice(grantsBefore)).toEqual([{ refreshToken: before.credentials['refreshToken'], ok: true }]);
    expect(after.credentials['refreshToken']).toBe(crm.refreshTokenOf(t.clientId));
    expect(after.credentials['refreshToken']).not.toBe(before.credentials['refreshToken']);
    expect(after.version).toBe(before.version + 1);
    expect(after.credentials).toMatchObject({ clientId: t.clientId, clientSecret: t.clientSecret });

    // Expired again: the next refresh sends the token stored above, never the dead one.
    crm.expireAccessTokens();
    await patchCustomer(t, c.id, { name: 'Refreshed twice' });
    await syncedAt(t, c.id, 2);
    expect(crm.tokenGrants(t.clientId).slice(grantsBefore)).toEqual([
      { refreshToken: before.credentials['refreshToken'], ok: true },
      { refreshToken: after.credentials['refreshToken'], ok: true },
    ]);
    expect((await storedCredentials(t)).credentials['refreshToken']).toBe(crm.refreshTokenOf(t.clientId));
    expect(crm.people(t.clientId)).toHaveLength(1);
    expect(crm.person(t.clientId, remoteId)).toMatchObject({ names: { display: 'Refreshed twice' } });
  });

  it('rides out 429 with and without Retry-After and a burst of 500s: one remote person per customer', async () => {
    const t = await setUpTenant();
    crm.faults.failNext(1, 429, { retryAfter: '1', path: '/v3/people' });
    crm.faults.failNext(1, 429, { path: '/v3/people' });
    crm.faults.failNext(3, 500, { path: '/v3/people' });
    const a = await createCustomer(t, { email: 'faults-a@example.com', name: 'Faulty A' });
    const b = await createCustomer(t, { email: 'faults-b@example.com', name: 'Faulty B' });
    await syncedAt(t, a.id, 1);
    await syncedAt(t, b.id, 1);
    crm.faults.failNext(2, 500, { path: '/v3/people' });
    await patchCustomer(t, a.id, { name: 'Still fine' });
    await syncedAt(t, a.id, 2);
    const people = crm.people(t.clientId);
    expect(people).toHaveLength(2);
    expect(people.map((p) => p.references.external_id).sort()).toEqual([a.id, b.id].sort());
    expect(people.find((p) => p.references.external_id === a.id)).toMatchObject({ names: { display: 'Still fine' } });
  });

  it('reconciliation follows paging.next across pages and imports every remote person', async () => {
    const t = await setUpTenant();
    for (let i = 0; i < 130; i++) await strataApi(t, 'POST', '/people', { person: { names: { display: `Bulk ${i}` }, contact_points: { emails: [{ value: `bulk${i}@strata.test` }] } } });
    const run = await reconcile(t);
    expect(run).toMatchObject({ status: 'completed', imported: 130 });
    expect((await localByEmail(t, 'bulk0@strata.test'))?.name).toBe('Bulk 0');
    expect((await localByEmail(t, 'bulk129@strata.test'))?.name).toBe('Bulk 129');
  });
});
