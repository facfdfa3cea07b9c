/**
 * RevCRM (emulators/revcrm), a CRM nobody here tuned for, connected by its definition file alone
 * (test/fixtures/providers/revcrm.yaml): two-header auth, page-number listing, `t=,v1=` signed
 * webhooks, revisions with 409, remote deletes found by the sweep, and its faults (429 with and
 * without Retry-After, 500 bursts, lost, duplicate and out-of-order webhooks). Real Temporal dev
 * server and Postgres.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRevCrmEmulator, type RevCrmEmulator } from '../../emulators/revcrm/emulator.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { eventually, startCustomersFixture, type CustomersFixture } from '../support/customers-fixture.js';

let f: CustomersFixture;
let crm: RevCrmEmulator;

describe('RevCRM connected by its definition alone', () => {
  beforeAll(async () => {
    crm = await startRevCrmEmulator({ retryBaseMs: 50 });
    const definition = await loadProviderDefinitionFile('test/fixtures/providers/revcrm.yaml');
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
    accountId: string;
    apiKey: string;
  }
  interface Run {
    id: string;
    trigger: string;
    status: string;
    imported: number;
    repaired: number;
  }

  const runsOf = async (t: Tenant) => (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs`).set(t.auth).expect(200)).body.data as Run[];

  /** A RevCRM connection with sync on; with `webhooks`, a subscription pointing at its webhook URL. */
  async function setUpTenant(opts: { webhooks?: boolean; fieldPolicies?: Record<string, string> } = {}): Promise<Tenant> {
    const t = await f.stack.createTenant();
    const { accountId, apiKey } = crm.addAccount();
    const conn = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({
        provider: 'revcrm',
        code: 'crm',
        name: 'RevCRM',
        credentials: { accountId, apiKey },
        settings: { baseUrl: crm.url, customerSync: { enabled: true, fieldPolicies: opts.fieldPolicies ?? {} } },
      })
      .expect(201);
    const tenant = { auth: t.auth, connectionId: conn.body.id as string, accountId, apiKey };
    if (opts.webhooks) await subscribe(tenant);
    await eventually('the backfill', async () => ((await runsOf(tenant)).find((r) => r.trigger === 'connect' && r.status === 'completed') ? true : undefined));
    return tenant;
  }

  /** Subscribes RevCRM's webhooks to the connection's webhook URL and stores the subscription's secret. */
  async function subscribe(t: Tenant): Promise<void> {
    const webhookSecret = crm.subscribe(t.accountId, `${f.baseUrl}/v1/webhooks/${t.connectionId}`);
    await request(f.stack.app).patch(`/v1/connections/${t.connectionId}`).set(t.auth).send({ credentials: { accountId: t.accountId, apiKey: t.apiKey, webhookSecret } }).expect(200);
  }

  /** RevCRM's API as a person using RevCRM calls it. */
  async function revApi(t: Tenant, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${crm.url}/api${path}`, {
      method,
      headers: { 'X-Account-Id': t.accountId, 'X-Api-Key': t.apiKey, 'Content-Type': 'application/json', ...headers },
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
    (await request(f.stack.app).get(`/v1/customers/${id}`).set(t.auth).expect(200)).body as { version: number; deleted: boolean; name: string | null; phone: string | null; description: string | null };
  const localByEmail = async (t: Tenant, email: string) =>
    ((await request(f.stack.app).get('/v1/customers').query({ email }).set(t.auth).expect(200)).body.data as { id: string; name: string | null }[])[0];
  const syncOf = async (t: Tenant, id: string) =>
    (await request(f.stack.app).get(`/v1/customers/${id}/sync`).set(t.auth).expect(200)).body as {
      systems: { connectionId: string; remoteId: string | null; state: string; lastSyncedVersion: number }[];
      conflicts: { field: string; localValue: unknown; remoteValue: unknown; decision: string }[];
    };
  const syncedAt = (t: Tenant, id: string, version: number) =>
    eventually(`customer ${id} in sync at v${version}`, async () => {
      const m = (await syncOf(t, id)).systems.find((x) => x.connectionId === t.connectionId);
      return m?.remoteId && m.state === 'in_sync' && m.lastSyncedVersion >= version ? m.remoteId : undefined;
    });
  async function reconcile(t: Tenant): Promise<Run> {
    const before = new Set((await runsOf(t)).map((r) => r.id));
    await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).query({ wait: 0 }).set(t.auth).expect(200);
    // The run this call started (manual), not one the connection's hourly Schedule may start meanwhile.
    return eventually('the reconciliation to end', async () => (await runsOf(t)).find((r) => !before.has(r.id) && r.trigger === 'manual' && r.status !== 'running'), 60_000);
  }
  const writesTo = (method: string) => crm.requestLog().filter((r) => r.method === method && r.path.startsWith('/api/contacts/'));

  it('pushes a local customer with both auth headers and updates it with If-Revision', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { email: 'ada@example.com', name: 'Ada', address: { city: 'London' }, metadata: { tier: 'gold' } });
    const remoteId = await syncedAt(t, c.id, 1);
    expect(crm.contact(t.accountId, remoteId)).toMatchObject({ external_id: c.id, display_name: 'Ada', email_address: 'ada@example.com', address: { city: 'London' }, custom: { tier: 'gold' }, revision: 1 });
    await patchCustomer(t, c.id, { phone: '+44 1' });
    await syncedAt(t, c.id, 2);
    expect(crm.contact(t.accountId, remoteId)).toMatchObject({ phone_number: '+44 1', display_name: 'Ada', revision: 2 });
  });

  it('takes signed webhooks (X-Sig t=,v1=), duplicated and out of order, to one correct local state', async () => {
    const t = await setUpTenant({ webhooks: true });
    const created = await revApi(t, 'POST', '/contacts', { contact: { display_name: 'Born at Rev', email_address: 'born@rev.test' } });
    const remoteId = (created.body['contact'] as { id: string }).id;
    const local = await eventually('the local twin', () => localByEmail(t, 'born@rev.test'));
    expect(local.name).toBe('Born at Rev');

    crm.webhookFaults({ duplicate: true, reorderBatch: 2 });
    await revApi(t, 'PATCH', `/contacts/${remoteId}`, { contact: { display_name: 'Second' } }, { 'If-Revision': '1' });
    await revApi(t, 'PATCH', `/contacts/${remoteId}`, { contact: { display_name: 'Third', note: 'last' } }, { 'If-Revision': '2' });
    await eventually('the latest edit locally', async () => ((await getCustomer(t, local.id)).name === 'Third' ? true : undefined));
    crm.webhookFaults({});
    await eventually('every delivery answered', () => (crm.deliveries().every((d) => d.state !== 'pending') ? true : undefined));
    const after = await getCustomer(t, local.id);
    expect(after).toMatchObject({ name: 'Third', description: 'last' });
    // Nothing of ours went back to RevCRM for changes that came from it.
    expect(writesTo('PATCH').filter((r) => r.path.endsWith(remoteId))).toHaveLength(2);
  });

  it('a remote edit between our read and our write: 409 stale_revision, re-read, merged, conflict recorded', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { email: 'race@example.com', name: 'Ada', phone: '+44 1' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { display_name: 'Ada at Rev', note: 'from Rev' });
    await patchCustomer(t, c.id, { name: 'Ada Lovelace' });
    await eventually('the remote note locally', async () => ((await getCustomer(t, c.id)).description === 'from Rev' ? true : undefined));
    const local = await getCustomer(t, c.id);
    await syncedAt(t, c.id, local.version);
    expect(crm.contact(t.accountId, remoteId)).toMatchObject({ display_name: 'Ada Lovelace', note: 'from Rev', phone_number: '+44 1' });
    const { conflicts } = await syncOf(t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'name', localValue: 'Ada Lovelace', remoteValue: 'Ada at Rev', decision: 'local' });
  });

  it('reconciliation reads every page (page-number pagination) and imports what it finds past the first 100', async () => {
    const t = await setUpTenant();
    for (let i = 0; i < 130; i++) await revApi(t, 'POST', '/contacts', { contact: { display_name: `Bulk ${i}`, email_address: `bulk${i}@rev.test` } });
    const run = await reconcile(t);
    expect(run).toMatchObject({ status: 'completed', imported: 130 });
    expect((await localByEmail(t, 'bulk129@rev.test'))?.name).toBe('Bulk 129');
    expect(crm.requestLog().some((r) => r.method === 'GET' && r.path === '/api/contacts')).toBe(true);
  });

  it('a contact deleted at RevCRM whose webhook was lost (404 afterwards) is deleted locally by the sweep', async () => {
    const t = await setUpTenant();
    const kept = await createCustomer(t, { name: 'Kept' });
    const gone = await createCustomer(t, { name: 'Gone' });
    await syncedAt(t, kept.id, 1);
    const goneRemote = await syncedAt(t, gone.id, 1);
    // Subscribed only once both are in sync, so the lost delete is the only webhook there is: the
    // echo of our own create, still on its way, would re-read the contact after the delete, get the
    // 404 and apply the delete itself (correctly), leaving the sweep nothing to find.
    await subscribe(t);
    const revision = crm.contact(t.accountId, goneRemote)!.revision;
    crm.webhookFaults({ lose: 1 });
    expect((await revApi(t, 'DELETE', `/contacts/${goneRemote}`, undefined, { 'If-Revision': String(revision) })).status).toBe(204);
    expect(crm.deliveries().at(-1)).toMatchObject({ type: 'contact.deleted', state: 'lost' });

    const run = await reconcile(t);
    expect(run).toMatchObject({ status: 'completed', repaired: 1 });
    await eventually('the local tombstone', async () => ((await getCustomer(t, gone.id)).deleted ? true : undefined));
    expect((await getCustomer(t, kept.id)).deleted).toBe(false);
  });

  it('rides out 429 with and without Retry-After and a burst of 500s while pushing', async () => {
    const t = await setUpTenant();
    crm.faults.failNext(1, 429, { retryAfter: '1' });
    crm.faults.failNext(1, 429);
    crm.faults.failNext(3, 500);
    const c = await createCustomer(t, { email: 'faults@example.com', name: 'Faulty' });
    const remoteId = await syncedAt(t, c.id, 1);
    await patchCustomer(t, c.id, { name: 'Still fine' });
    await syncedAt(t, c.id, 2);
    expect(crm.contacts(t.accountId)).toHaveLength(1);
    expect(crm.contact(t.accountId, remoteId)).toMatchObject({ display_name: 'Still fine', revision: 2 });
  });
});
