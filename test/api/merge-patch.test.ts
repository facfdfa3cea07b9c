/**
 * PATCH is a JSON Merge Patch (RFC 7396) everywhere: nested objects (settings, metadata, a connector,
 * mappings, an address) merge key by key, null removes a key, the merged result is validated as a
 * whole. A connection's new settings reach a running worker on its next call, also when the PATCH was
 * served by another API process.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcmepayEmulator, type AcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let acmeA: AcmepayEmulator;
let acmeB: AcmepayEmulator;
let acmeFactory: ProviderFactory;
let fetch: EgressFetch;

beforeAll(async () => {
  acmeA = await startAcmepayEmulator();
  acmeB = await startAcmepayEmulator();
  fetch = createEgressFetch({ allowPrivateNetworks: true });
  acmeFactory = createDeclarativeProviderFactory(await loadProviderDefinitionFile('providers/acmepay.yaml'), { fetch, timeoutMs: 5000 });
  stack = await startTestStack({ providers: [acmeFactory] });
});
afterAll(async () => {
  await stack?.close();
  await acmeA?.close();
  await acmeB?.close();
  await fetch?.close();
});

const uploadIntegration = {
  name: 'Uploaded CSV',
  type: 'polling',
  connector: { type: 'csv', streams: { products: { upload: true }, inventory: { upload: true } } },
  settings: { intervalSeconds: 3600, warehouse: 'IST-1', pauseAfterFailures: 7, region: 'TR' },
  mappings: {
    products: [
      { sourceField: 'code', targetField: 'sku', required: true },
      { sourceField: 'code', targetField: 'name', required: true },
    ],
    inventory: [
      { sourceField: 'code', targetField: 'sku', required: true },
      { sourceField: 'qty', targetField: 'quantity', transformation: 'integer', required: true },
    ],
  },
};

async function newIntegration(auth: Record<string, string>): Promise<string> {
  const res = await request(stack.app).post('/v1/integrations').set(auth).send(uploadIntegration);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('PATCH /v1/integrations/:id merges', () => {
  it('a PATCH of one setting keeps the interval and every other setting', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const res = await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ settings: { warehouse: 'IST-2' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.settings).toEqual({ intervalSeconds: 3600, warehouse: 'IST-2', pauseAfterFailures: 7, region: 'TR' });
    const read = await request(stack.app).get(`/v1/integrations/${id}`).set(t.auth).expect(200);
    expect(read.body.settings).toEqual(res.body.settings);
  });

  it('null removes a key (a removed interval is back to its default), with application/merge-patch+json', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const res = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ settings: { region: null, intervalSeconds: null } }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.settings).toEqual({ intervalSeconds: 300, warehouse: 'IST-1', pauseAfterFailures: 7 });
  });

  it('merges the connector and the mappings per entity; null removes a mapping', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const res = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .send({ connector: { streams: { products: { pageSize: 50 } } }, mappings: { inventory: null } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.connector.type).toBe('csv');
    expect(res.body.connector.streams.products).toMatchObject({ upload: true, pageSize: 50 });
    expect(res.body.connector.streams.inventory).toMatchObject({ upload: true });
    expect(Object.keys(res.body.mappings)).toEqual(['products']);
    expect(res.body.mappings.products).toHaveLength(2);
  });

  it('refuses a merge that leaves the integration invalid, naming the field, and stores nothing', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const bad = await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ settings: { intervalSeconds: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toContainEqual(expect.objectContaining({ path: 'body.settings.intervalSeconds' }));
    const badConnector = await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ connector: { type: 'rest' } });
    expect(badConnector.status).toBe(400);
    expect(badConnector.body.error.details.some((d: { path: string }) => d.path.startsWith('body.connector'))).toBe(true);
    const badMapping = await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ mappings: { products: [{ sourceField: 'code', targetField: 'name' }] } });
    expect(badMapping.status).toBe(400);
    expect(badMapping.body.error.details).toContainEqual(expect.objectContaining({ path: expect.stringMatching(/^body\.mappings\.products/) }));
    const read = await request(stack.app).get(`/v1/integrations/${id}`).set(t.auth).expect(200);
    expect(read.body.settings.intervalSeconds).toBe(3600);
    expect(read.body.connector.type).toBe('csv');
    expect(read.body.mappings.products).toHaveLength(2);
  });

  it('keeps every key of concurrent PATCHes of different settings (each merges onto the row it locks)', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.map((k) => request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ settings: { [k]: k } })));
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const read = await request(stack.app).get(`/v1/integrations/${id}`).set(t.auth).expect(200);
    expect(read.body.settings).toEqual({ intervalSeconds: 3600, warehouse: 'IST-1', pauseAfterFailures: 7, region: 'TR', ...Object.fromEntries(keys.map((k) => [k, k])) });
  });

  it('refuses another content type with 415 and merge-patch+json on a POST', async () => {
    const t = await stack.createTenant();
    const id = await newIntegration(t.auth);
    const text = await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).set('Content-Type', 'text/plain').send('{"name":"x"}');
    expect(text.status).toBe(415);
    const post = await request(stack.app).post('/v1/integrations').set(t.auth).set('Content-Type', 'application/merge-patch+json').send(JSON.stringify(uploadIntegration));
    expect(post.status).toBe(415);
  });
});

describe('PATCH /v1/connections/:id merges', () => {
  it('merges settings (nested objects too) and metadata; null removes a key', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({
        provider: 'acmepay',
        code: 'acme',
        name: 'Acme',
        credentials: { accountId: acmeA.accountId, apiKey: acmeA.apiKey },
        settings: { baseUrl: acmeA.url, limits: { perSecond: 5, burst: 10 }, region: 'EU' },
        metadata: { team: 'payments', owner: 'ada' },
      });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const res = await request(stack.app)
      .patch(`/v1/connections/${created.body.id}`)
      .set(t.auth)
      .send({ settings: { limits: { burst: 20 }, region: null }, metadata: { owner: null, oncall: 'grace' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.settings).toEqual({ baseUrl: acmeA.url, limits: { perSecond: 5, burst: 20 } });
    expect(res.body.metadata).toEqual({ team: 'payments', oncall: 'grace' });
    expect(res.body.credentials.version).toBe(1);
  });

  it('keeps every key of concurrent PATCHes of different metadata keys', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'Acme', credentials: { accountId: acmeA.accountId, apiKey: acmeA.apiKey }, settings: { baseUrl: acmeA.url } })
      .expect(201);
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.map((k) => request(stack.app).patch(`/v1/connections/${created.body.id}`).set(t.auth).send({ metadata: { [k]: k } })));
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const read = await request(stack.app).get(`/v1/connections/${created.body.id}`).set(t.auth).expect(200);
    expect(read.body.metadata).toEqual(Object.fromEntries(keys.map((k) => [k, k])));
  });

  it('refuses settings whose merged URL is not allowed, naming the field', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'Acme', credentials: { accountId: acmeA.accountId, apiKey: acmeA.apiKey }, settings: { baseUrl: acmeA.url } })
      .expect(201);
    const bad = await request(stack.app).patch(`/v1/connections/${created.body.id}`).set(t.auth).send({ settings: { baseUrl: 'file:///etc/passwd' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error.details)).toContain('settings.baseUrl');
    const read = await request(stack.app).get(`/v1/connections/${created.body.id}`).set(t.auth).expect(200);
    expect(read.body.settings.baseUrl).toBe(acmeA.url);
  });

  it('a running worker calls the new base URL on its next call after a PATCH served by another API process', async () => {
    const t = await stack.createTenant();
    // Another API process: its own client cache, so nothing it forgets reaches the worker's.
    const otherApi = stack.makeApp({ providers: new ProviderRegistry([acmeFactory]) });
    const created = await request(otherApi)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'Acme', credentials: { accountId: acmeA.accountId, apiKey: acmeA.apiKey }, settings: { baseUrl: acmeA.url } })
      .expect(201);
    const id = created.body.id as string;
    const a0 = acmeA.requestCount();
    const first = await request(otherApi).post(`/v1/connections/${id}/test`).set(t.auth).expect(200);
    expect(first.body).toMatchObject({ status: 'completed', ok: true });
    expect(acmeA.requestCount()).toBeGreaterThan(a0);

    await request(otherApi).patch(`/v1/connections/${id}`).set(t.auth).send({ settings: { baseUrl: acmeB.url } }).expect(200);
    const a1 = acmeA.requestCount();
    const b1 = acmeB.requestCount();
    const second = await request(otherApi).post(`/v1/connections/${id}/test`).set(t.auth).expect(200);
    expect(second.body).toMatchObject({ status: 'completed', ok: true });
    expect(acmeB.requestCount()).toBeGreaterThan(b1);
    expect(acmeA.requestCount()).toBe(a1);
  }, 60_000);
});

describe('PATCH /v1/webhook-endpoints/:id merges', () => {
  it('takes application/merge-patch+json: fields not sent stay, null clears the description', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/webhook-endpoints')
      .set(t.auth)
      .send({ url: 'https://hooks.example.com/in', eventTypes: ['payment.*'], description: 'ops' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.endpoint.id as string;
    const res = await request(stack.app)
      .patch(`/v1/webhook-endpoints/${id}`)
      .set(t.auth)
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ description: null }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ url: 'https://hooks.example.com/in', eventTypes: ['payment.*'], description: null });
  });
});

describe('PATCH /v1/customers/:id merges', () => {
  it('merges metadata keys (null removes one) and address parts', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/customers')
      .set(t.auth)
      .set('Idempotency-Key', `c-${Date.now()}`)
      .send({ name: 'Ada', metadata: { crmId: '42', tier: 'gold' }, address: { line1: 'Main St 1', city: 'Berlin', postal_code: '10117', country: 'DE' } })
      .expect(201);
    const res = await request(stack.app)
      .patch(`/v1/customers/${created.body.id}`)
      .set(t.auth)
      .send({ metadata: { tier: null, region: 'EU' }, address: { city: 'Hamburg', postal_code: null } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.metadata).toEqual({ crmId: '42', region: 'EU' });
    expect(res.body.address).toEqual({ line1: 'Main St 1', line2: null, city: 'Hamburg', postal_code: null, state: null, country: 'DE' });
    expect(res.body.name).toBe('Ada');
    const cleared = await request(stack.app).patch(`/v1/customers/${created.body.id}`).set(t.auth).send({ metadata: null, address: null }).expect(200);
    expect(cleared.body.metadata).toEqual({});
    expect(cleared.body.address).toBeNull();
  });

  it('refuses a merge past 50 metadata keys, naming the field', async () => {
    const t = await stack.createTenant();
    const full = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    const created = await request(stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', `c-${Date.now()}`).send({ name: 'Ada', metadata: full }).expect(201);
    const res = await request(stack.app).patch(`/v1/customers/${created.body.id}`).set(t.auth).send({ metadata: { extra: 'v' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: 'body.metadata' }));
  });
});
