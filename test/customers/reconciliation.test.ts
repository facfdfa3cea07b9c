import { ScheduleNotFoundError } from '@temporalio/client';
import { count, eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, syncCursors } from '../../src/db/schema.js';
import { customerSyncProgressQuery } from '../../src/shared/customer-messages.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { DEFAULT_RECONCILE_INTERVAL_SECONDS } from '../../src/domain/customers/sync-settings.js';
import { spreadInterval } from '../../src/temporal/schedules.js';
import {
  createCustomer,
  eventually,
  getCustomer,
  setUpSyncTenant,
  startCustomersFixture,
  syncedRemote,
  syncOf,
  type CustomersFixture,
  type SyncTenant,
} from '../support/customers-fixture.js';

let f: CustomersFixture;
beforeAll(async () => {
  f = await startCustomersFixture();
});
afterAll(async () => f?.close());

interface Run {
  id: string;
  trigger: string;
  status: string;
  phase: string;
  missedChanges: number;
  scanned: number;
  imported: number;
  linked: number;
  pushed: number;
  repaired: number;
}

const runsOf = async (t: SyncTenant) => (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs`).set(t.auth).expect(200)).body.data as Run[];
const finishedRun = (t: SyncTenant, trigger: string) =>
  eventually(`a finished ${trigger} run`, async () => (await runsOf(t)).find((r) => r.trigger === trigger && r.status !== 'running'));
const reconcile = async (t: SyncTenant) => (await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).set(t.auth).expect(200)).body;
const localCustomers = async (t: SyncTenant) =>
  (await request(f.stack.app).get('/v1/customers').query({ limit: 100 }).set(t.auth).expect(200)).body.data as { id: string; email: string | null; name: string | null; description: string | null }[];
const remoteCustomers = async (t: SyncTenant) => (await t.sdk.customers.list({ limit: 100 })).data;
const enableSync = (t: SyncTenant, customerSync: Record<string, unknown>) =>
  request(f.stack.app).patch(`/v1/connections/${t.connectionId}`).set(t.auth).send({ settings: { customerSync } }).expect(200);
const settle = () => new Promise((r) => setTimeout(r, 1500));
/** The customer's entity workflow has handled its changes (with sync off: found no system to push to). */
const quiet = (id: string) =>
  eventually(`customer ${id} quiet`, async () => {
    const progress = await f.stack.temporal.workflow.getHandle(workflowId.customer(id)).query(customerSyncProgressQuery).catch(() => undefined);
    return progress?.state === 'in_sync' ? true : undefined;
  });

describe('scheduled reconciliation', () => {
  it("recovers a change whose webhook was missed when the connection's Schedule runs; the Schedule goes when sync is turned off", async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Before' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    await settle(); // the echo of our create is delivered (and dropped: our own write)
    const schedule = f.stack.temporal.schedule.getHandle(workflowId.customerReconcileSchedule(t.connectionId));
    expect((await schedule.describe()).action).toMatchObject({ workflowType: 'customerReconcileWorkflow' });

    f.stripe.pauseWebhooks();
    try {
      await t.sdk.customers.update(remoteId, { name: 'Changed while webhooks were lost' });
      await settle();
      expect((await getCustomer(f, t, c.id)).name).toBe('Before');
      await schedule.trigger();
      await eventually('the missed change', async () => ((await getCustomer(f, t, c.id)).name === 'Changed while webhooks were lost' ? true : undefined));
    } finally {
      f.stripe.resumeWebhooks();
    }
    const run = await finishedRun(t, 'schedule');
    // After the stored cursor: our create's event (our own write, nothing to apply) and the missed update.
    expect(run).toMatchObject({ status: 'completed', missedChanges: 1 });

    await enableSync(t, { enabled: false });
    await expect(schedule.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('fires at a phase of its own per connection, not on the hour for all of them at once', async () => {
    const t = await setUpSyncTenant(f);
    const { spec } = await f.stack.temporal.schedule.getHandle(workflowId.customerReconcileSchedule(t.connectionId)).describe();
    const [interval] = spec.intervals ?? [];
    const expected = spreadInterval(DEFAULT_RECONCILE_INTERVAL_SECONDS, t.connectionId).intervals![0]!;
    expect(interval).toEqual({ every: DEFAULT_RECONCILE_INTERVAL_SECONDS * 1000, offset: Number(String(expected.offset).replace(/s$/, '')) * 1000 });
    // A settings update keeps the phase.
    await request(f.stack.app).patch(`/v1/connections/${t.connectionId}`).set(t.auth).send({ settings: { customerSync: { enabled: true, matchByEmail: true } } }).expect(200);
    const after = await f.stack.temporal.schedule.getHandle(workflowId.customerReconcileSchedule(t.connectionId)).describe();
    expect(after.spec.intervals?.[0]).toEqual(interval);
  });

  it('detects drift the change feed cannot show (its events are gone) and repairs it through the entity workflow', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { name: 'Agreed', phone: '+1 555' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await f.stripe.webhooksIdle();
    await settle();
    f.stripe.pauseWebhooks();
    try {
      await t.sdk.customers.update(remoteId, { name: 'Drifted at Stripe' });
      // The event is past the feed's reach (Stripe keeps events 30 days): the cursor is already beyond it.
      const [newest] = (await t.sdk.events.list({ limit: 1 })).data;
      await f.stack.database.db.update(syncCursors).set({ cursor: newest!.id }).where(eq(syncCursors.connectionId, t.connectionId));
      const res = await reconcile(t);
      expect(res).toMatchObject({ status: 'completed', changes: 0, progress: { missedChanges: 0, repaired: 1, imported: 0, pushed: 0 } });
      await eventually('the drift repaired', async () => ((await getCustomer(f, t, c.id)).name === 'Drifted at Stripe' ? true : undefined));
      expect((await getCustomer(f, t, c.id)).phone).toBe('+1 555');
      // Repaired: nothing differs any more.
      expect((await reconcile(t)).progress).toMatchObject({ repaired: 0 });
    } finally {
      f.stripe.resumeWebhooks();
    }
    const runs = await runsOf(t);
    expect(runs.filter((r) => r.trigger === 'manual').map((r) => r.repaired)).toEqual([0, 1]);
  });
});

describe('backfill when customer sync is turned on', () => {
  it('imports Stripe customers, links one to a local customer by email, pushes the local ones, and a re-run changes nothing', async () => {
    const t = await setUpSyncTenant(f, { enabled: false });
    const both = await createCustomer(f, t, { email: 'Both@Example.com', name: 'Local name', phone: '+1 111' });
    const localOnly = await createCustomer(f, t, { email: 'local@example.com', name: 'Only local' });
    const matched = await t.sdk.customers.create({ email: 'both@example.com', name: 'Stripe name', description: 'from Stripe' });
    const remoteOnly = await t.sdk.customers.create({ email: 'remote@example.com', name: 'Only at Stripe', metadata: { tier: 'gold' } });
    await f.stripe.webhooksIdle();
    await Promise.all([quiet(both.id), quiet(localOnly.id)]);
    await settle();
    expect(await localCustomers(t)).toHaveLength(2); // sync off: Stripe's webhooks changed nothing

    await enableSync(t, { enabled: true, matchByEmail: true });
    const backfill = await finishedRun(t, 'connect');
    expect(backfill).toMatchObject({ status: 'completed', imported: 1, linked: 1, pushed: 1, repaired: 0 });

    const pushedRemoteId = await syncedRemote(f, t, localOnly.id);
    expect(await syncedRemote(f, t, both.id)).toBe(matched.id);
    // The first match merged both records: fields set on one side only travel, the local name stays.
    await eventually('the match merged at Stripe', async () => {
      const r = (await t.sdk.customers.retrieve(matched.id)) as { name: string; phone: string; description: string; metadata: Record<string, string> };
      return r.name === 'Local name' && r.phone === '+1 111' && r.description === 'from Stripe' ? r : undefined;
    });
    expect(await getCustomer(f, t, both.id)).toMatchObject({ name: 'Local name', description: 'from Stripe' });
    const imported = (await localCustomers(t)).find((x) => x.email === 'remote@example.com');
    expect(imported).toMatchObject({ name: 'Only at Stripe', metadata: { tier: 'gold' } });
    expect((await syncOf(f, t, imported!.id)).systems[0]).toMatchObject({ remoteId: remoteOnly.id, state: 'in_sync' });

    const expectNoDuplicates = async () => {
      expect((await remoteCustomers(t)).map((x) => x.id).sort()).toEqual([matched.id, remoteOnly.id, pushedRemoteId].sort());
      expect(await localCustomers(t)).toHaveLength(3);
    };
    await expectNoDuplicates();

    // Idempotent: running it again finds everything linked and in sync.
    await f.stripe.webhooksIdle();
    const again = await reconcile(t);
    expect(again.progress).toMatchObject({ imported: 0, linked: 0, pushed: 0, repaired: 0, scanned: 6 });
    await settle();
    await expectNoDuplicates();
  });

  it('without matchByEmail, a Stripe customer with a local email is imported as its own customer', async () => {
    const t = await setUpSyncTenant(f, { enabled: false });
    const local = await createCustomer(f, t, { email: 'same@example.com', name: 'Local' });
    await t.sdk.customers.create({ email: 'same@example.com', name: 'Stripe' });
    await f.stripe.webhooksIdle();
    await quiet(local.id);
    await settle();
    await enableSync(t, { enabled: true });
    expect(await finishedRun(t, 'connect')).toMatchObject({ imported: 1, linked: 0, pushed: 1 });
  });

  it('shows its progress batch by batch, throttled to the connection limit, and waits out a 429 Retry-After', async () => {
    const t = await setUpSyncTenant(f, { enabled: false });
    for (let i = 0; i < 250; i++) await t.sdk.customers.create({ email: `bulk${i}@example.com`, name: `Bulk ${i}` });
    await f.stripe.webhooksIdle();
    f.stripe.failNext({ status: 429, retryAfter: '2', pathPrefix: '/v1/customers', method: 'GET' });
    await enableSync(t, { enabled: true, maxRequestsPerSecond: 1 });

    const res = await request(f.stack.app).post(`/v1/connections/${t.connectionId}/sync`).query({ wait: 0 }).set(t.auth).expect(200);
    expect(res.body).toMatchObject({ status: 'running', workflowId: workflowId.customerReconcile(t.connectionId) });
    const seen = new Set<number>();
    const run = await eventually('the run to finish', async () => {
      const runs = await runsOf(t);
      const r = runs.find((x) => x.trigger === 'connect');
      if (!r) return undefined;
      const one = (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs/${r.id}`).set(t.auth).expect(200)).body as Run;
      if (one.status === 'running') seen.add(one.scanned);
      return one.status === 'running' ? undefined : one;
    });
    expect(run).toMatchObject({ status: 'completed', imported: 250, scanned: 500 });
    // Progress was visible between batches (a throttled batch is the pages read in about a second).
    expect([...seen].some((n) => n > 0 && n < 250)).toBe(true);

    const lists = f.stripe.requests().filter((r) => r.account === t.secretKey && r.method === 'GET' && r.path === '/v1/customers');
    expect(lists.map((r) => r.status)).toEqual([429, 200, 200, 200]);
    const gaps = lists.slice(1).map((r, i) => Date.parse(r.at) - Date.parse(lists[i]!.at));
    expect(gaps[0]).toBeGreaterThanOrEqual(1900); // Retry-After: 2
    for (const gap of gaps.slice(1)) expect(gap).toBeGreaterThanOrEqual(900); // 1 request/s
    const [local] = await f.stack.database.db.select({ n: count() }).from(customers).where(eq(customers.tenantId, t.tenantId));
    expect(local?.n).toBe(250);
  }, 60_000);
});

describe('settings.customerSync', () => {
  it('is refused with a 400 naming the field when malformed, on create and on update', async () => {
    const t = await f.stack.createTenant();
    const create = (customerSync: unknown) =>
      request(f.stack.app)
        .post('/v1/connections')
        .set(t.auth)
        .send({ provider: 'stripe', code: `s${Math.random().toString(36).slice(2, 8)}`, name: 'S', credentials: { secretKey: 'sk_test_x' }, settings: { customerSync } });
    const bad = await create({ enabled: 'yes' }).expect(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ path: 'body.settings.customerSync.enabled' })] });
    expect(bad.body.error.message).toContain('settings.customerSync.enabled');
    const policy = await create({ enabled: true, fieldPolicies: { name: 'whoever' } }).expect(400);
    expect(policy.body.error.details[0].path).toBe('body.settings.customerSync.fieldPolicies.name');
    await create({ enabled: true, maxRequestsPerSecond: 0 }).expect(400);
    await create({ enabled: true, matchByEmail: 'true' }).expect(400);

    const ok = await create({ enabled: false }).expect(201);
    const patch = await request(f.stack.app)
      .patch(`/v1/connections/${ok.body.id}`)
      .set(t.auth)
      .send({ settings: { customerSync: { enabled: true, matchByEmial: true } } })
      .expect(400);
    expect(patch.body.error.details[0].path).toBe('body.settings.customerSync');
    expect(patch.body.error.details[0].message).toContain('matchByEmial');
  });
});
