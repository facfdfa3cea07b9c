import { and, eq, isNotNull } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers, syncMappings } from '../../src/db/schema.js';
import { customerSyncProgressQuery } from '../../src/shared/customer-messages.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { createCustomer, eventually, setUpSyncTenant, startCustomersFixture, type CustomersFixture } from '../support/customers-fixture.js';
import { startWorkerProcess } from '../support/processes.js';

let f: CustomersFixture;

beforeAll(async () => {
  f = await startCustomersFixture({ startWorker: false });
});
afterAll(async () => {
  await f?.close();
});

const REMOTE = 500;
const LOCAL = 10;

describe('a worker killed in the middle of a backfill', () => {
  it('imports and pushes everything exactly once after another worker takes over', async () => {
    const t = await setUpSyncTenant(f, { enabled: false });
    for (let i = 0; i < REMOTE; i++) await t.sdk.customers.create({ email: `r${i}@example.com`, name: `Remote ${i}` });
    const locals = [];
    for (let i = 0; i < LOCAL; i++) locals.push((await createCustomer(f, t, { email: `l${i}@example.com`, name: `Local ${i}` })).id);
    await f.stripe.webhooksIdle();

    const child = await startWorkerProcess(f.stack, { STRIPE_API_URL: f.stripe.url });
    // The outbox relay hands the local creates to their workflows, which find no system to push to yet.
    await Promise.all(
      locals.map((id) =>
        eventually(`customer ${id} quiet`, async () => {
          const progress = await f.stack.temporal.workflow.getHandle(workflowId.customer(id)).query(customerSyncProgressQuery).catch(() => undefined);
          return progress?.state === 'in_sync' ? true : undefined;
        }),
      ),
    );
    // Slow enough (2 calls/s) that the kill lands mid-run.
    await request(f.stack.app)
      .patch(`/v1/connections/${t.connectionId}`)
      .set(t.auth)
      .send({ settings: { customerSync: { enabled: true, maxRequestsPerSecond: 2 } } })
      .expect(200);
    const runs = async () => (await request(f.stack.app).get(`/v1/connections/${t.connectionId}/sync/runs`).set(t.auth).expect(200)).body.data as { status: string; scanned: number; trigger: string }[];
    await eventually('the first page imported', async () => ((await runs())[0]?.scanned ?? 0) >= 100 ? true : undefined);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await runs())[0]?.status).toBe('running');

    await f.stack.startWorker();
    await eventually('the backfill to finish', async () => ((await runs()).find((r) => r.trigger === 'connect')?.status === 'completed' ? true : undefined), 90_000);
    const mapped = () =>
      f.stack.database.db
        .select({ localId: syncMappings.localId, remoteId: syncMappings.remoteId })
        .from(syncMappings)
        .where(and(eq(syncMappings.connectionId, t.connectionId), isNotNull(syncMappings.remoteId)));
    await eventually('every customer linked', async () => ((await mapped()).length === REMOTE + LOCAL ? true : undefined), 90_000);

    const all = await mapped();
    expect(new Set(all.map((m) => m.localId)).size).toBe(REMOTE + LOCAL);
    expect(new Set(all.map((m) => m.remoteId)).size).toBe(REMOTE + LOCAL);
    expect(all.map((m) => m.localId)).toEqual(expect.arrayContaining(locals));
    const localRows = await f.stack.database.db.select({ id: customers.id }).from(customers).where(eq(customers.tenantId, t.tenantId));
    expect(localRows).toHaveLength(REMOTE + LOCAL);
    const remote = await t.sdk.customers.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(remote).toHaveLength(REMOTE + LOCAL);
    expect(new Set(remote.map((c) => c.email)).size).toBe(REMOTE + LOCAL);
  }, 240_000);
});
