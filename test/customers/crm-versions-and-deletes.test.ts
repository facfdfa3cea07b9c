/**
 * A CRM with versions and no change feed (test/fixtures/providers/democrm-versioned.yaml on the Nimbus
 * CRM emulator): writes carry `If-Revision`, a stale one answers 409 and the push re-reads, merges and
 * retries; remote deletes whose webhook never came are found by reconciliation's delete sweep, and
 * never after a scan that did not read the whole catalog. Real Temporal dev server and Postgres.
 * No webhook subscription anywhere here: every remote change reaches us only by reading.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { sweepBatch } from '../../src/activities/customers/customer-delete-sweep.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { eventually, startCustomersFixture, type CustomersFixture } from '../support/customers-fixture.js';

let f: CustomersFixture;
let crm: CrmEmulator;
let versionedFactory: ProviderFactory;

beforeAll(async () => {
  crm = await startCrmEmulator();
  const fetch = createEgressFetch({ allowPrivateNetworks: true });
  const definitions = await Promise.all(['test/fixtures/providers/democrm-versioned.yaml', 'providers/democrm.yaml'].map((file) => loadProviderDefinitionFile(file)));
  const factories = definitions.map((definition) => createDeclarativeProviderFactory(definition, { fetch }));
  versionedFactory = factories[0]!;
  f = await startCustomersFixture({ extraProviders: factories });
});
afterAll(async () => {
  await f?.close();
  await crm?.close();
});

interface Tenant {
  tenantId: string;
  auth: { Authorization: string };
  connectionId: string;
  token: string;
}

interface Run {
  id: string;
  trigger: string;
  status: string;
  phase: string;
  repaired: number;
  error: string | null;
}

async function setUpTenant(fieldPolicies: Record<string, string> = {}, provider = 'democrm_rev'): Promise<Tenant> {
  const t = await f.stack.createTenant();
  const token = `crm_${randomBytes(8).toString('hex')}`;
  const conn = await request(f.stack.app)
    .post('/v1/connections')
    .set(t.auth)
    .send({
      provider,
      code: 'crm',
      name: 'Nimbus CRM',
      credentials: { apiToken: token },
      settings: { baseUrl: crm.url, customerSync: { enabled: true, fieldPolicies } },
    })
    .expect(201);
  const tenant = { tenantId: t.id, auth: t.auth, connectionId: conn.body.id as string, token };
  // The backfill started by turning sync on, out of the way of the runs the tests start.
  await eventually('the backfill', async () => ((await runsOf(tenant)).find((r) => r.trigger === 'connect' && r.status === 'completed') ? true : undefined));
  return tenant;
}

/** The CRM's own API, as a person using the CRM would call it (the other side). */
async function crmApi(t: Tenant, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${crm.url}/api/v2${path}`, {
    method,
    headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  await res.arrayBuffer();
  return res.status;
}

async function createCustomer(t: Tenant, body: object): Promise<{ id: string }> {
  const res = await request(f.stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', randomBytes(8).toString('hex')).send(body).expect(201);
  return res.body as { id: string };
}

const patchCustomer = (t: Tenant, id: string, body: object) => request(f.stack.app).patch(`/v1/customers/${id}`).set(t.auth).send(body).expect(200);

async function getCustomer(t: Tenant, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}`).set(t.auth).expect(200)).body as {
    version: number;
    deleted: boolean;
    name: string | null;
    phone: string | null;
    description: string | null;
  };
}

async function syncOf(t: Tenant, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}/sync`).set(t.auth).expect(200)).body as {
    systems: { connectionId: string; remoteId: string | null; state: string; lastSyncedVersion: number }[];
    conflicts: { field: string; localValue: unknown; remoteValue: unknown; decision: string; policy: string }[];
  };
}

/** The remote id once the customer is in sync at the CRM at `version` or later. */
function syncedAt(t: Tenant, id: string, version: number): Promise<string> {
  return eventually(`customer ${id} in sync at v${version}`, async () => {
    const m = (await syncOf(t, id)).systems.find((x) => x.connectionId === t.connectionId);
    return m?.remoteId && m.state === 'in_sync' && m.lastSyncedVersion >= version ? m.remoteId : undefined;
  });
}

/** The customer's current version, once the CRM is in sync with it. */
async function settledVersion(t: Tenant, id: string): Promise<number> {
  return eventually(`customer ${id} settled`, async () => {
    const { version } = await getCustomer(t, id);
    const m = (await syncOf(t, id)).systems.find((x) => x.connectionId === t.connectionId);
    return m?.state === 'in_sync' && m.lastSyncedVersion === version ? version : undefined;
  });
}

const staleWrites = (t: Tenant, method: string) => crm.requests().filter((r) => r.account === t.token && r.method === method && r.status === 409);
const runsOf = async (t: Tenant) => (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs`).set(t.auth).expect(200)).body.data as Run[];

/** Starts a manual reconciliation and waits for it to end (completed or failed). */
async function reconcile(t: Tenant): Promise<Run> {
  const before = new Set((await runsOf(t)).map((r) => r.id));
  await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).query({ wait: 0 }).set(t.auth).expect(200);
  return eventually('the reconciliation to end', async () => (await runsOf(t)).find((r) => !before.has(r.id) && r.status !== 'running'));
}

describe('versions: a remote edit landing between our read and our write', () => {
  it('same field, most_recent: the stale write gets 409, the push re-reads and merges, records the conflict, and writes again with the fresh revision', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { email: 'ada@example.com', name: 'Ada', phone: '+44 1' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { full_name: 'Ada at CRM' });
    await patchCustomer(t, c.id, { name: 'Ada Lovelace' });

    await settledVersion(t, c.id);
    expect(staleWrites(t, 'PUT')).toHaveLength(1);
    // Our edit was the later one: it wins on both sides, and the remote edit it overrode is on record.
    expect((await getCustomer(t, c.id)).name).toBe('Ada Lovelace');
    expect(crm.contact(t.token, remoteId)).toMatchObject({ full_name: 'Ada Lovelace', phones: [{ number: '+44 1' }], revision: '3' });
    const { conflicts } = await syncOf(t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'name', localValue: 'Ada Lovelace', remoteValue: 'Ada at CRM', policy: 'most_recent', decision: 'local' });
  });

  it('same field, remote_wins: the remote value survives on both sides and the conflict is recorded', async () => {
    const t = await setUpTenant({ phone: 'remote_wins' });
    const c = await createCustomer(t, { email: 'grace@example.com', name: 'Grace', phone: '+1 1' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { phones: [{ number: '+1 222' }] });
    await patchCustomer(t, c.id, { phone: '+1 333' });

    await eventually('the remote phone locally', async () => ((await getCustomer(t, c.id)).phone === '+1 222' ? true : undefined));
    await settledVersion(t, c.id);
    expect(staleWrites(t, 'PUT')).toHaveLength(1);
    expect(crm.contact(t.token, remoteId)?.phones).toEqual([{ number: '+1 222' }]);
    const { conflicts } = await syncOf(t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'phone', localValue: '+1 333', remoteValue: '+1 222', policy: 'remote_wins', decision: 'remote' });
  });

  it('another field: both edits end on both sides, with no conflict', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { email: 'alan@example.com', name: 'Alan' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { notes: 'noted at CRM' });
    await patchCustomer(t, c.id, { name: 'Alan Turing' });

    await eventually('the remote note locally', async () => ((await getCustomer(t, c.id)).description === 'noted at CRM' ? true : undefined));
    await settledVersion(t, c.id);
    expect((await getCustomer(t, c.id)).name).toBe('Alan Turing');
    expect(crm.contact(t.token, remoteId)).toMatchObject({ full_name: 'Alan Turing', notes: 'noted at CRM' });
    expect((await syncOf(t, c.id)).conflicts).toEqual([]);
  });

  it('without versions (providers/democrm.yaml), another field edited between our read and write is merged by the read after the write', async () => {
    const t = await setUpTenant({}, 'democrm');
    const c = await createCustomer(t, { email: 'plain@example.com', name: 'Plain' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { notes: 'noted at CRM' });
    await patchCustomer(t, c.id, { name: 'Plain Two' });

    await eventually('the remote note locally', async () => ((await getCustomer(t, c.id)).description === 'noted at CRM' ? true : undefined));
    await settledVersion(t, c.id);
    expect(staleWrites(t, 'PUT')).toEqual([]);
    expect(crm.contact(t.token, remoteId)).toMatchObject({ full_name: 'Plain Two', notes: 'noted at CRM' });
    expect((await syncOf(t, c.id)).conflicts).toEqual([]);
  });

  it('a run of stale answers with nothing to merge: each write retried after a fresh read, past the per-push bound, until it lands', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { name: 'Busy' });
    const remoteId = await syncedAt(t, c.id, 1);
    // Seven 409s (more than one push retries before failing as retryable), then the CRM takes the write.
    crm.failNext({ status: 409, count: 7, method: 'PUT', pathPrefix: `/api/v2/contacts/${remoteId}` });
    await patchCustomer(t, c.id, { name: 'Busy Bee' });
    await syncedAt(t, c.id, 2);
    expect(staleWrites(t, 'PUT')).toHaveLength(7);
    expect(crm.contact(t.token, remoteId)?.full_name).toBe('Busy Bee');
    expect((await syncOf(t, c.id)).conflicts).toEqual([]);
  });

  it('the other order, a remote edit of the same field before our local edit: read first, merged, written with its revision', async () => {
    const t = await setUpTenant({ name: 'remote_wins' });
    const c = await createCustomer(t, { email: 'lin@example.com', name: 'Lin' });
    const remoteId = await syncedAt(t, c.id, 1);
    expect(await crmApi(t, 'PUT', `/contacts/${remoteId}`, { contact: { full_name: 'Lin at CRM' } })).toBe(200);
    await patchCustomer(t, c.id, { name: 'Lin here' });

    await eventually('the remote name locally', async () => ((await getCustomer(t, c.id)).name === 'Lin at CRM' ? true : undefined));
    await settledVersion(t, c.id);
    expect(crm.contact(t.token, remoteId)?.full_name).toBe('Lin at CRM');
    const { conflicts } = await syncOf(t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'name', localValue: 'Lin here', remoteValue: 'Lin at CRM', decision: 'remote' });
  });

  it('a local delete wins over a remote edit that made its revision stale: re-read, deleted with the fresh revision', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { name: 'Short-lived' });
    const remoteId = await syncedAt(t, c.id, 1);
    crm.editBeforeNextWrite(remoteId, { notes: 'edited meanwhile' });
    await request(f.stack.app).delete(`/v1/customers/${c.id}`).set(t.auth).expect(200);

    await syncedAt(t, c.id, 2);
    expect(staleWrites(t, 'DELETE')).toHaveLength(1);
    expect(crm.contact(t.token, remoteId)?.archived_at).toEqual(expect.any(String));
  });
});

describe('remote deletes without a change feed (mark and sweep)', () => {
  it('a local edit of a contact already deleted at the CRM fails the push for good (no version to write against) instead of retrying', async () => {
    const t = await setUpTenant();
    const c = await createCustomer(t, { name: 'Edited after' });
    const remoteId = await syncedAt(t, c.id, 1);
    expect(await crmApi(t, 'DELETE', `/contacts/${remoteId}`)).toBe(204);
    await patchCustomer(t, c.id, { name: 'Too late' });
    const failed = await eventually('the failed push', async () => {
      const m = (await request(f.stack.app).get(`/v1/customers/${c.id}/sync`).set(t.auth).expect(200)).body.systems[0] as { state: string; failureReason: string | null };
      return m.state === 'failed' ? m : undefined;
    });
    expect(failed.failureReason).toMatch(/gone/);
    expect(crm.requests().filter((r) => r.account === t.token && r.method === 'PUT')).toEqual([]);
  });

  it('a contact deleted at the CRM whose webhook never came is found by the next reconciliation and deleted locally', async () => {
    const t = await setUpTenant();
    const kept = await createCustomer(t, { email: 'kept@example.com', name: 'Kept' });
    const gone = await createCustomer(t, { email: 'gone@example.com', name: 'Gone' });
    await syncedAt(t, kept.id, 1);
    const goneRemote = await syncedAt(t, gone.id, 1);
    expect(await crmApi(t, 'DELETE', `/contacts/${goneRemote}`)).toBe(204);

    const run = await reconcile(t);
    expect(run).toMatchObject({ status: 'completed', phase: 'done', repaired: 1 });
    await eventually('the local tombstone', async () => ((await getCustomer(t, gone.id)).deleted ? true : undefined));
    expect((await getCustomer(t, kept.id)).deleted).toBe(false);
    await settledVersion(t, gone.id);
    // Applied as a remote delete: nothing is written back to the CRM for it.
    expect(crm.requests().filter((r) => r.account === t.token && r.method === 'DELETE' && r.path.endsWith(goneRemote))).toHaveLength(1);
  });

  it('sweeps nothing while the scan cannot read past a failing page, and sweeps once the scan completes', async () => {
    const t = await setUpTenant();
    const ids: string[] = [];
    for (const name of ['One', 'Two', 'Three', 'Four']) ids.push((await createCustomer(t, { name })).id);
    const remoteIds: string[] = [];
    for (const id of ids) remoteIds.push(await syncedAt(t, id, 1));
    // Three live contacts left: two pages of two. The second page answers 503 until the outage ends.
    expect(await crmApi(t, 'DELETE', `/contacts/${remoteIds[3]}`)).toBe(204);
    crm.failNext({ status: 503, count: 1_000, method: 'GET', path: '/api/v2/contacts', skip: 1 });
    const pageFailures = () => crm.requests().filter((r) => r.account === t.token && r.method === 'GET' && r.path === '/api/v2/contacts' && r.status === 503).length;

    const before = new Set((await runsOf(t)).map((r) => r.id));
    await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).query({ wait: 0 }).set(t.auth).expect(200);
    await eventually('three failed reads of page 2', () => (pageFailures() >= 3 ? true : undefined));
    const stuck = (await runsOf(t)).find((r) => !before.has(r.id));
    expect(stuck).toMatchObject({ status: 'running', repaired: 0 });
    expect(['events', 'remote']).toContain(stuck!.phase); // the phase is recorded after each finished batch
    expect((await getCustomer(t, ids[3]!)).deleted).toBe(false);
    expect((await syncOf(t, ids[3]!)).systems[0]).toMatchObject({ state: 'in_sync', remoteId: remoteIds[3] });
    // The sweep step itself refuses a run whose scan has not read the last page (none of the four is marked yet).
    const signalled: string[] = [];
    const adapter = versionedFactory.customerSync!.connect({ tenantId: t.tenantId, connectionId: t.connectionId, credentials: { apiToken: t.token }, settings: { baseUrl: crm.url } });
    const direct = await sweepBatch(f.stack.database.db, { adapter, provider: 'democrm_rev', settings: null }, { tenantId: t.tenantId, connectionId: t.connectionId, runId: stuck!.id, cursor: null }, async (customerId) => {
      signalled.push(customerId);
    });
    expect(direct).toEqual({ cursor: null, counts: {} });
    expect(signalled).toEqual([]);

    crm.clearFailures();
    const complete = await eventually('the run to complete', async () => (await runsOf(t)).find((r) => r.id === stuck!.id && r.status !== 'running'));
    expect(complete).toMatchObject({ status: 'completed', repaired: 1 });
    await eventually('the local tombstone', async () => ((await getCustomer(t, ids[3]!)).deleted ? true : undefined));
    for (const id of ids.slice(0, 3)) expect((await getCustomer(t, id)).deleted).toBe(false);
  });
});
