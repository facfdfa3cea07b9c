import { createHmac } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/customers-fixture.js';
import { anySessionAlive, holdLock, sessionsWaitingOnLock } from '../support/locks.js';
import { startWorkerProcess } from '../support/processes.js';
import {
  createIntegration,
  readCatalog,
  restIntegrationBody,
  startErpFixture,
  type ErpFixture,
} from './erp-fixture.js';

let f: ErpFixture;

beforeAll(async () => {
  f = await startErpFixture({ startWorker: false });
});
afterAll(async () => {
  await f?.close();
});

function sign(body: string, timestamp: string): string {
  return `sha256=${createHmac('sha256', 'whsec_test').update(`${timestamp}.${body}`).digest('hex')}`;
}

const lockCatalogProducts = (f: ErpFixture) =>
  holdLock(f.stack.database.db, sql.raw('lock table catalog_products in exclusive mode'));
/** The worker's apply, waiting on the lock: sessions inserting into catalog_products. */
const catalogWritersWaiting = (f: ErpFixture) =>
  sessionsWaitingOnLock(f.stack.database.db, '%insert into%catalog_products%');

describe('a worker killed in the middle of applying an ERP webhook event', () => {
  it('is replaced, and the event is applied and marked processed exactly once', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Webhook crash tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url));
    const child = await startWorkerProcess(stack);
    const releaseLock = await lockCatalogProducts(f);

    const event = JSON.stringify({
      id: 'evt-crash',
      entity: 'products',
      data: [
        { StokKodu: 'CRASH-1', UrunAdi: 'Açma', Aktif: 'E' },
        { StokKodu: 'CRASH-2', UrunAdi: 'Gevrek', Aktif: 'E' },
      ],
    });
    const unix = String(Math.floor(Date.now() / 1000));
    const post = () =>
      request(stack.app)
        .post(`/v1/integrations/${id}/webhooks`)
        .set('content-type', 'application/json')
        .set({ 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(event, unix) })
        .send(event);
    const posted = post().then((r) => r); // supertest sends on then()
    // The activity has locked the event row and waits on its first catalog write: kill the worker there.
    const killed = await eventually('an apply waiting on the catalog lock', async () => {
      const pids = await catalogWritersWaiting(f);
      return pids.length > 0 ? pids : undefined;
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const res = await posted;
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({
      duplicate: false,
      workflowId: expect.stringMatching(/^erp-webhook-ewe_/),
    });

    releaseLock();
    // The dead worker's sessions run on until they find their client gone, and end.
    await eventually('the killed sessions to end', async () =>
      (await anySessionAlive(stack.database.db, killed)) ? undefined : true,
    );
    // The killed attempt's transaction never committed: nothing applied, the event still pending.
    const pending = (await stack.database.db.execute(
      sql`select processed_at from erp_webhook_events where integration_id = ${id}`,
    )) as unknown as { processed_at: Date | null }[];
    expect(pending).toEqual([{ processed_at: null }]);
    expect(await readCatalog(stack, t.auth, 'products')).toEqual([]);

    // A redelivery while the event is pending starts nothing new.
    const again = await post();
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ duplicate: true, applied: false, workflowId: res.body.workflowId });

    await stack.startWorker();
    const handle = stack.temporal.workflow.getHandle(res.body.workflowId as string);
    expect(await handle.result()).toMatchObject({
      runId: res.body.runId,
      counts: { read: 2, valid: 2, upserted: 2 },
    });

    // The dead worker's heartbeats stopped: the activity timed out on its heartbeat (15 s, not its
    // 1-minute start-to-close) and its second attempt applied the event.
    const history = await handle.fetchHistory();
    const started = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!);
    expect(started.map((a) => a.attempt)).toEqual([2]);
    expect(started[0]!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
    );
    const products = await readCatalog(stack, t.auth, 'products');
    expect(products.map((p) => [p.sku, p.name]).sort()).toEqual([
      ['CRASH-1', 'Açma'],
      ['CRASH-2', 'Gevrek'],
    ]);
    const processed = (await stack.database.db.execute(
      sql`select processed_at from erp_webhook_events where integration_id = ${id}`,
    )) as unknown as { processed_at: Date | null }[];
    expect(processed).toHaveLength(1);
    expect(processed[0]!.processed_at).not.toBeNull();
    const runs = (await request(stack.app).get(`/v1/integrations/${id}/runs`).set(t.auth).expect(200)).body
      .data as { trigger: string; status: string }[];
    expect(runs).toMatchObject([{ trigger: 'webhook', status: 'succeeded' }]);
    const run = (
      await request(stack.app).get(`/v1/integrations/${id}/runs/${res.body.runId}`).set(t.auth).expect(200)
    ).body;
    expect(run.counts).toMatchObject({ read: 2, valid: 2, upserted: 2 });
  }, 180_000);
});
