import type { Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, eventually, getCustomer, setUpSyncTenant, startCustomersFixture, syncedRemote, type CustomersFixture } from '../support/customers-fixture.js';
import { startHoldingProxy } from '../support/holding-proxy.js';
import { startWorkerProcess } from '../support/processes.js';

/** How long the proxy holds a customer create before it reaches Stripe. */
const HOLD_MS = 1_500;


let f: CustomersFixture;
let proxy: { url: string; server: Server };
let creates = 0;

beforeAll(async () => {
  let stripeUrl = '';
  proxy = await startHoldingProxy({
    target: () => stripeUrl,
    holds: (req) => req.method === 'POST' && req.url === '/v1/customers',
    onHeld: () => (creates += 1),
    holdMs: HOLD_MS,
  });
  f = await startCustomersFixture({ startWorker: false, stripeUrl: proxy.url });
  stripeUrl = f.stripe.url;
});
afterAll(async () => {
  await f?.close();
  proxy?.server.close();
});


describe('a worker killed in the middle of a customer sync', () => {
  it('loses no update and creates no duplicate Stripe customer', async () => {
    const t = await setUpSyncTenant(f, { enabled: true }, { awaitBackfill: false });
    const child = await startWorkerProcess(f.stack, { STRIPE_API_URL: proxy.url });
    const c = await createCustomer(f, t, { email: 'crash@example.com', name: 'Before crash' });

    // Kill the worker the moment its create is on the wire; Stripe still carries it out.
    await eventually('the create on the wire', () => (creates > 0 ? true : undefined), 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, HOLD_MS + 300));
    expect((await t.sdk.customers.list({ limit: 100 })).data).toHaveLength(1);

    // A change made while no worker runs waits in the outbox.
    await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ name: 'After crash' }).expect(200);

    await f.stack.startWorker();
    const remoteId = await syncedRemote(f, t, c.id, 2);
    const all = (await t.sdk.customers.list({ limit: 100 })).data;
    expect(all.map((x) => x.id)).toEqual([remoteId]);
    expect(all[0]).toMatchObject({ name: 'After crash', email: 'crash@example.com', metadata: { switchyard_id: c.id } });
    expect(creates).toBeGreaterThanOrEqual(2); // the retried create was answered from Stripe's idempotency record
    expect((await getCustomer(f, t, c.id)).version).toBe(2);
  }, 120_000);
});
