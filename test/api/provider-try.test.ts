/**
 * Trying a definition against real systems before relying on it: POST /v1/providers/:name/try runs
 * one read-only action of a tenant's declarative provider against its connection, and POST
 * /v1/integrations/:id/try reads one page of an ERP stream. Both show the exchange with secrets
 * masked and what the platform made of it, over real HTTP to the emulators, through the egress guard.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import { ErpEmulator, seedCatalog } from '../../emulators/erp/emulator.js';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { startAcmepayEmulator, type AcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let crm: CrmEmulator;
let erp: ErpEmulator;
let acme: AcmepayEmulator;
type Tenant = { id: string; auth: { Authorization: string } };
let tenant: Tenant;

/** A provider file PUT as the tenant's own (as YAML: the file as written), under another name. */
async function putProviderFile(t: Tenant, file: string, from: string, to: string): Promise<void> {
  const text = readFileSync(file, 'utf8').replace(new RegExp(`^name: ${from}$`, 'm'), `name: ${to}`);
  await request(stack.app).put(`/v1/providers/${to}`).set(t.auth).set('Content-Type', 'application/yaml').send(text).expect(200);
}

async function connect(t: Tenant, provider: string, credentials: Record<string, string>, baseUrl: string): Promise<string> {
  const res = await request(stack.app).post('/v1/connections').set(t.auth).send({ provider, code: `${provider}-${randomBytes(4).toString('hex')}`, name: provider, credentials, settings: { baseUrl } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

beforeAll(async () => {
  [crm, acme] = await Promise.all([startCrmEmulator(), startAcmepayEmulator()]);
  erp = new ErpEmulator({ tokenTtlSeconds: 60, seed: 7 });
  await erp.start();
  stack = await startTestStack({ startWorker: false });
  tenant = await stack.createTenant('Trying definitions');
  await putProviderFile(tenant, 'providers/democrm.yaml', 'democrm', 'trycrm');
  await putProviderFile(tenant, 'providers/acmepay.yaml', 'acmepay', 'tryacme');
});
afterAll(async () => {
  await stack?.close();
  await crm?.close();
  await acme?.close();
  await erp?.stop();
});

describe('POST /v1/providers/:name/try', () => {
  it('shows a CRM list page: the request with the token masked, the answer, and the customers as mapped', async () => {
    const token = `crm_${randomBytes(8).toString('hex')}`;
    for (const [name, email] of [['Ada Lovelace', 'ada@example.com'], ['Grace Hopper', 'grace@example.com']]) {
      const created = await fetch(`${crm.url}/api/v2/contacts`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ contact: { full_name: name, emails: [{ value: email, primary: true }], phones: [{ number: '+44 20 7946 0000' }] } }),
      });
      expect(created.status).toBe(201);
    }
    const connectionId = await connect(tenant, 'trycrm', { apiToken: token }, crm.url);

    const res = await request(stack.app).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId, action: 'list' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [exchange] = res.body.exchanges;
    expect(res.body.exchanges).toHaveLength(1);
    expect(exchange.request).toMatchObject({ method: 'GET', url: expect.stringContaining(`${crm.url}/api/v2/contacts`) });
    expect(exchange.request.headers.authorization).toBe('***');
    expect(exchange.response).toMatchObject({ status: 200, truncated: false });
    expect(exchange.response.body.contacts.map((c: { full_name: string }) => c.full_name).sort()).toEqual(['Ada Lovelace', 'Grace Hopper']);
    // The token appears nowhere in the answer.
    expect(JSON.stringify(res.body)).not.toContain(token);
    // Mapped through the definition's field mapping, as the sync engine sees them.
    const customers = res.body.result.customers as { remoteId: string; fields: Record<string, unknown> }[];
    expect(customers.map((c) => c.fields).sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      expect.objectContaining({ name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000' }),
      expect.objectContaining({ name: 'Grace Hopper', email: 'grace@example.com', phone: '+44 20 7946 0000' }),
    ]);

    // One record by id.
    const one = await request(stack.app).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId, action: 'retrieve', input: { remoteId: customers[0]!.remoteId } }).expect(200);
    expect(one.body.result.customer).toMatchObject({ remoteId: customers[0]!.remoteId, deleted: false });
    expect(one.body.exchanges[0].request.url).toContain(`/contacts/${customers[0]!.remoteId}`);

    // A refusal by the CRM is shown as the platform classifies it, the request and answer with it.
    const wrong = await connect(tenant, 'trycrm', { apiToken: 'not-a-crm-token' }, crm.url);
    const refused = await request(stack.app).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId: wrong, action: 'list' }).expect(200);
    expect(refused.body.error).toMatchObject({ code: 'invalid_credentials' });
    expect(refused.body.exchanges[0].response.status).toBe(401);
    expect(JSON.stringify(refused.body)).not.toContain('not-a-crm-token');
  });

  it('refuses actions that move money or write, before anything is sent', async () => {
    const connectionId = await connect(tenant, 'tryacme', { accountId: acme.accountId, apiKey: acme.apiKey }, acme.url);
    const before = acme.requestCount();
    for (const action of ['authorize', 'capture', 'refund', 'cancel', 'create', 'update', 'delete']) {
      const res = await request(stack.app).post('/v1/providers/tryacme/try').set(tenant.auth).send({ connectionId, action, input: { reference: 'pay_1' } }).expect(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'body.action', message: expect.stringContaining('never run as a trial') })]);
    }
    expect(acme.requestCount()).toBe(before);
    expect(acme.payments()).toEqual([]);

    // A status lookup is read-only: it runs, with the Basic credentials masked.
    const lookup = await request(stack.app).post('/v1/providers/tryacme/try').set(tenant.auth).send({ connectionId, action: 'status', input: { reference: 'pay_unknown' } });
    expect(lookup.status, JSON.stringify(lookup.body)).toBe(200);
    expect(lookup.body.result).toEqual({ outcome: null });
    expect(lookup.body.exchanges[0].request.headers.authorization).toBe('***');
    expect(lookup.body.exchanges[0].response.status).toBe(404);
    expect(JSON.stringify(lookup.body)).not.toContain(acme.apiKey);
    // A payment made at the gateway (by someone else): its status lookup shows the gateway outcome as routing reads it.
    const made = await fetch(`${acme.url}/v1/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${acme.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ amount: '12.50', currency: 'EUR', source: 'tok_success', capture: true, merchant_reference: 'order-1', country: 'DE' }),
    });
    expect(made.status).toBeLessThan(300);
    const reference = ((await made.json()) as { payment: { id: string } }).payment.id;
    const found = await request(stack.app).post('/v1/providers/tryacme/try').set(tenant.auth).send({ connectionId, action: 'status', input: { reference } }).expect(200);
    expect(found.body.result.outcome).toMatchObject({ status: 'succeeded', reference, amountCaptured: 1250 });
    expect(found.body.exchanges[0].request.url).toBe(`${acme.url}/v1/payments/${reference}`);

    // A lookup needs its input, named.
    const missing = await request(stack.app).post('/v1/providers/tryacme/try').set(tenant.auth).send({ connectionId, action: 'status' }).expect(400);
    expect(missing.body.error.details[0].path).toBe('body.input.reference');
  });

  it("tries only the tenant's own connections, of the provider named", async () => {
    const other = await stack.createTenant('Another tenant');
    await putProviderFile(other, 'providers/democrm.yaml', 'democrm', 'trycrm');
    const theirs = await connect(other, 'trycrm', { apiToken: `crm_${randomBytes(8).toString('hex')}` }, crm.url);
    await request(stack.app).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId: theirs, action: 'list' }).expect(404);
    const mine = await connect(tenant, 'tryacme', { accountId: acme.accountId, apiKey: acme.apiKey }, acme.url);
    const mismatch = await request(stack.app).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId: mine, action: 'list' }).expect(400);
    expect(mismatch.body.error.details[0].path).toBe('body.connectionId');
  });
  it('goes out through the egress guard: a refused destination is a 422 and nothing is sent', async () => {
    const token = `crm_${randomBytes(8).toString('hex')}`;
    const connectionId = await connect(tenant, 'trycrm', { apiToken: token }, crm.url);
    const strict = createEgressFetch({ allowPrivateNetworks: false });
    try {
      const before = crm.requests().length;
      const res = await request(stack.makeApp({ egress: strict })).post('/v1/providers/trycrm/try').set(tenant.auth).send({ connectionId, action: 'list' }).expect(422);
      expect(res.body.error.code).toBe('destination_blocked');
      expect(crm.requests().length).toBe(before);
    } finally {
      await strict.close();
    }
  });
});

describe('POST /v1/integrations/:id/try', () => {
  it('reads one page of a stream: the token call and the page with secrets masked, the records mapped, nothing stored', async () => {
    seedCatalog(erp, 30);
    // A row without a name, first in the stream: it shows why it would be dead-lettered.
    erp.put('urunler', { StokKodu: 'STK-00000', UrunAdi: '', Aciklama: '', Aktif: 'E' }, Date.UTC(2026, 0, 1));
    const created = await request(stack.app).post('/v1/integrations').set(tenant.auth).send(defterIntegration(erp.url, 10));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    const res = await request(stack.app).post(`/v1/integrations/${id}/try`).set(tenant.auth).send({ entity: 'products' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The OAuth2 password grant, then the page.
    expect(res.body.exchanges).toHaveLength(2);
    const [tokenCall, page] = res.body.exchanges;
    expect(tokenCall.request).toMatchObject({ method: 'POST', url: `${erp.url}/oauth/token` });
    expect(tokenCall.request.body).toContain('***');
    expect(page.request.url).toContain('/api/v1/urunler');
    expect(page.request.headers.authorization).toBe('***');
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('gizli'); // the password
    const issued = tokenCall.response.body as Record<string, unknown>;
    expect(Object.values(issued)).toContain('***');

    expect(res.body.count).toBe(10);
    expect(res.body.next).toEqual(expect.any(String));
    expect(res.body.records).toHaveLength(10);
    expect(res.body.records[0]).toMatchObject({ ok: false, raw: expect.objectContaining({ StokKodu: 'STK-00000' }), errors: [expect.objectContaining({ field: 'name' })] });
    expect(res.body.records[1]).toMatchObject({ ok: true, raw: expect.objectContaining({ StokKodu: 'STK-00001' }), record: expect.objectContaining({ sku: 'STK-00001', name: 'Ürün 1 — çay bardağı' }) });
    // One page only was read, and nothing was written.
    expect(erp.requests.filter((r) => r.stream === 'urunler')).toHaveLength(1);
    const catalog = await request(stack.app).get('/v1/catalog/products').set(tenant.auth).expect(200);
    expect(catalog.body.data).toEqual([]);

    // The next page from the cursor the first one gave.
    const second = await request(stack.app).post(`/v1/integrations/${id}/try`).set(tenant.auth).send({ entity: 'products', cursor: res.body.next }).expect(200);
    expect(second.body.records[0].raw.StokKodu).toBe('STK-00010');

    // Another tenant cannot try it.
    const other = await stack.createTenant('ERP stranger');
    await request(stack.app).post(`/v1/integrations/${id}/try`).set(other.auth).send({ entity: 'products' }).expect(404);
    // An entity the connector does not read is named.
    const none = await request(stack.app).post(`/v1/integrations/${id}/try`).set(tenant.auth).send({ entity: 'orders' }).expect(400);
    expect(none.body.error.details[0].path).toBe('body.entity');
  });
});
