/**
 * A CRM connection's adapter is cached per connection, but by what it was built from: a PATCH of its
 * settings (a new base URL) makes the next call of a running worker build a new adapter that calls
 * the new URL, without any message between the API and the worker.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import { customerSyncAdapters } from '../../src/activities/customers/customer-sync-adapters.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let crmA: CrmEmulator;
let crmB: CrmEmulator;
let fetch: EgressFetch;

beforeAll(async () => {
  crmA = await startCrmEmulator();
  crmB = await startCrmEmulator();
  fetch = createEgressFetch({ allowPrivateNetworks: true });
  const democrm = createDeclarativeProviderFactory(await loadProviderDefinitionFile('providers/democrm.yaml'), { fetch });
  stack = await startTestStack({ providers: [democrm], startWorker: false });
});
afterAll(async () => {
  await stack?.close();
  await crmA?.close();
  await crmB?.close();
  await fetch?.close();
});

describe('customer sync adapters', () => {
  it('call the new base URL after a PATCH of the settings', async () => {
    const t = await stack.createTenant();
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'democrm', code: 'crm', name: 'Nimbus CRM', credentials: { apiToken: 'crm_0123456789abcdef' }, settings: { baseUrl: crmA.url, customerSync: { enabled: true } } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const adapters = customerSyncAdapters({ db: stack.database.db, cipher: stack.cipher, providers: stack.providers });

    const first = await adapters(t.id, conn.body.id);
    await first.adapter.list(null);
    const a0 = crmA.requests().length;
    expect(a0).toBeGreaterThan(0);
    // Unchanged: the same adapter is reused.
    expect((await adapters(t.id, conn.body.id)).adapter).toBe(first.adapter);

    await request(stack.app).patch(`/v1/connections/${conn.body.id}`).set(t.auth).send({ settings: { baseUrl: crmB.url } }).expect(200);
    const b0 = crmB.requests().length;
    const second = await adapters(t.id, conn.body.id);
    expect(second.settings).toMatchObject({ enabled: true });
    await second.adapter.list(null);
    expect(crmB.requests().length).toBeGreaterThan(b0);
    expect(crmA.requests().length).toBe(a0);
  });
});
