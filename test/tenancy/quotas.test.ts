/**
 * Per-tenant quotas: each refusal names the quota, its limit, the usage and the setting; concurrent
 * creates at the limit cannot both pass; an upload over the byte quota leaves nothing stored; a tenant
 * sends only so many uploads at once; ERP polling has a minimum interval.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, count, eq } from 'drizzle-orm';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from '../../src/stores/platform/quota-store.js';
import { connections } from '../../src/db/schema.js';
import { erpUploadChunks, erpUploads } from '../../src/db/tables/erp-uploads.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ providers: [createStripeProviderFactory()], startWorker: false });
});
afterAll(async () => {
  await stack?.close();
});

type Auth = { Authorization: string };
const MiB = 1024 * 1024;

function appWith(quotas: Partial<TenantQuotas>): Express {
  return stack.makeApp({ quotas: { ...DEFAULT_TENANT_QUOTAS, ...quotas } });
}

const createConnection = (app: Express, auth: Auth, code: string) =>
  request(app).post('/v1/connections').set(auth).send({ provider: 'stripe', code, name: code, credentials: { secretKey: 'sk_test_quota' } });

function expectQuota(res: request.Response, status: number, pattern: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe('quota_exceeded');
  expect(res.body.error.message).toMatch(pattern);
}

const uploadIntegration = {
  name: 'Uploaded CSV',
  type: 'polling',
  connector: { type: 'csv', streams: { products: { upload: true }, inventory: { upload: true } } },
  settings: { intervalSeconds: 3600 },
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

async function createIntegration(app: Express, auth: Auth, body: Record<string, unknown> = uploadIntegration): Promise<string> {
  const res = await request(app).post('/v1/integrations').set(auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const upload = (app: Express, auth: Auth, id: string, entity: string, body: Buffer) =>
  request(app).put(`/v1/integrations/${id}/files/${entity}`).set(auth).set('Content-Type', 'text/csv').send(body);

/** A chunked upload (no Content-Length) sent in pieces; resolves with the answer, however the server ends it. */
function chunkedUpload(url: string, auth: Auth, path: string, pieces: Buffer[], hold?: Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(url);
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path, headers: { ...auth, 'content-type': 'text/csv' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    void (async () => {
      for (const piece of pieces) {
        if (!req.write(piece)) await once(req, 'drain');
        if (hold) await hold;
      }
      req.end();
    })();
  });
}

async function serve(app: Express): Promise<{ url: string; close: () => void }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function uploadsOf(integrationId: string) {
  const { db } = stack.database;
  return db.select({ entity: erpUploads.entity, size: erpUploads.size, status: erpUploads.status }).from(erpUploads).where(eq(erpUploads.integrationId, integrationId));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('tenant quotas', () => {
  it('refuses a connection over TENANT_MAX_CONNECTIONS with 422 naming the quota, per tenant', async () => {
    const app = appWith({ connections: 2 });
    const t = await stack.createTenant('Connections quota');
    await createConnection(app, t.auth, 'one').expect(201);
    const two = await createConnection(app, t.auth, 'two').expect(201);
    const over = await createConnection(app, t.auth, 'three');
    expectQuota(over, 422, /^quota connections: 2 of 2 used \(TENANT_MAX_CONNECTIONS\)/);
    expect(over.body.error.details).toEqual([{ path: 'quotas.connections', message: 'limit 2, used 2' }]);

    // Another tenant has its own quota; deleting a connection makes room again.
    const other = await stack.createTenant('Other tenant');
    await createConnection(app, other.auth, 'three').expect(201);
    await request(app).delete(`/v1/connections/${two.body.id}`).set(t.auth).expect(204);
    await createConnection(app, t.auth, 'three').expect(201);
  });

  it('lets exactly the quota through when creates race at the limit', async () => {
    const app = appWith({ connections: 3 });
    const t = await stack.createTenant('Racing tenant');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => createConnection(app, t.auth, `race-${i}`)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 422, 422, 422, 422, 422, 422, 422]);
    const [stored] = await stack.database.db.select({ n: count() }).from(connections).where(eq(connections.tenantId, t.id));
    expect(stored!.n).toBe(3);
  });

  it('refuses ERP integrations over TENANT_MAX_ERP_INTEGRATIONS and a poll interval under ERP_MIN_POLL_INTERVAL_SECONDS', async () => {
    const app = appWith({ erp_integrations: 1, erp_min_poll_interval_seconds: 120 });
    const t = await stack.createTenant('ERP quota');

    const fast = await request(app).post('/v1/integrations').set(t.auth).send({ ...uploadIntegration, settings: { intervalSeconds: 60 } });
    expectQuota(fast, 422, /erp_min_poll_interval_seconds: settings\.intervalSeconds is 60, the minimum is 120 \(ERP_MIN_POLL_INTERVAL_SECONDS\)/);
    expect(fast.body.error.details).toEqual([{ path: 'body.settings.intervalSeconds', message: 'must be at least 120' }]);

    const id = await createIntegration(app, t.auth, { ...uploadIntegration, settings: { intervalSeconds: 120 } });
    const patch = await request(app).patch(`/v1/integrations/${id}`).set(t.auth).send({ settings: { intervalSeconds: 30 } });
    expectQuota(patch, 422, /intervalSeconds is 30, the minimum is 120/);
    await request(app).patch(`/v1/integrations/${id}`).set(t.auth).send({ settings: { intervalSeconds: 600 } }).expect(200);

    const second = await request(app).post('/v1/integrations').set(t.auth).send(uploadIntegration);
    expectQuota(second, 422, /^quota erp_integrations: 1 of 1 used \(TENANT_MAX_ERP_INTEGRATIONS\)/);
  });

  it('refuses a new provider over TENANT_MAX_PROVIDER_DEFINITIONS but always lets one be replaced', async () => {
    const app = appWith({ provider_definitions: 1 });
    const t = await stack.createTenant('Provider quota');
    const acmepay = parseYaml(readFileSync('providers/acmepay.yaml', 'utf8')) as Record<string, unknown>;
    const definition = (name: string, displayName = name) => ({ ...acmepay, name, displayName });
    const first = await request(app).put('/v1/providers/quotapay').set(t.auth).send(definition('quotapay'));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    await request(app).put('/v1/providers/quotapay').set(t.auth).send(definition('quotapay', 'Quota Pay 2')).expect(200);
    const second = await request(app).put('/v1/providers/otherpay').set(t.auth).send(definition('otherpay'));
    expectQuota(second, 422, /^quota provider_definitions: 1 of 1 used \(TENANT_MAX_PROVIDER_DEFINITIONS\)/);
  });

  it('refuses an API key over TENANT_MAX_API_KEYS; revoked keys do not count', async () => {
    const app = appWith({ api_keys: 2 });
    const t = await stack.createTenant('Key quota');
    const extra = await request(app).post('/v1/api-keys').set(t.auth).send({ name: 'ci' }).expect(201);
    const over = await request(app).post('/v1/api-keys').set(t.auth).send({ name: 'more' });
    expectQuota(over, 422, /^quota api_keys: 2 of 2 used \(TENANT_MAX_API_KEYS\)/);
    await request(app).delete(`/v1/api-keys/${extra.body.key.id}`).set(t.auth).expect(200);
    await request(app).post('/v1/api-keys').set(t.auth).send({ name: 'more' }).expect(201);
  });

  it('keeps uploads within TENANT_MAX_UPLOAD_BYTES: a new version replaces older ones, a file that does not fit leaves nothing stored', async () => {
    const app = appWith({ upload_bytes: 5 * MiB });
    const t = await stack.createTenant('Upload bytes quota');
    const id = await createIntegration(app, t.auth);
    const file = Buffer.alloc(2 * MiB, 'a');

    // Three versions of one file: the third fits because it replaces the oldest (6 MiB would be over).
    for (let i = 0; i < 3; i++) await upload(app, t.auth, id, 'products', file).expect(201);
    expect(await uploadsOf(id)).toEqual([
      { entity: 'products', size: 2 * MiB, status: 'complete' },
      { entity: 'products', size: 2 * MiB, status: 'complete' },
    ]);

    // Declared too large: refused before the body is read.
    const declared = await upload(app, t.auth, id, 'inventory', file);
    expectQuota(declared, 422, /^quota upload_bytes: 4194304 of 5242880 used \(TENANT_MAX_UPLOAD_BYTES\); the file does not fit/);

    // Chunked: refused while streaming, after the first MiB fitted; the partial upload is deleted.
    const server = await serve(app);
    try {
      const pieces = Array.from({ length: 32 }, () => Buffer.alloc(64 * 1024, 'b'));
      const streamed = await chunkedUpload(server.url, t.auth, `/v1/integrations/${id}/files/inventory`, pieces);
      expect(streamed.status).toBe(422);
      expect(JSON.parse(streamed.body).error.message).toMatch(/^quota upload_bytes: 5242880 of 5242880 used/);
    } finally {
      server.close();
    }
    expect((await uploadsOf(id)).filter((u) => u.entity === 'inventory')).toEqual([]);
    const { db } = stack.database;
    const [chunks] = await db
      .select({ n: count() })
      .from(erpUploadChunks)
      .innerJoin(erpUploads, eq(erpUploads.id, erpUploadChunks.uploadId))
      .where(and(eq(erpUploads.tenantId, t.id), eq(erpUploads.entity, 'inventory')));
    expect(chunks!.n).toBe(0);

    const quotas = await request(app).get('/v1/quotas').set(t.auth).expect(200);
    expect(quotas.body.data).toContainEqual({ name: 'upload_bytes', setting: 'TENANT_MAX_UPLOAD_BYTES', limit: 5 * MiB, used: 4 * MiB });
    expect(quotas.body.data).toContainEqual({ name: 'erp_integrations', setting: 'TENANT_MAX_ERP_INTEGRATIONS', limit: 50, used: 1 });
  }, 60_000);

  it('answers 429 with Retry-After past TENANT_MAX_CONCURRENT_UPLOADS, and only for that tenant', async () => {
    const app = appWith({ concurrent_uploads: 1 });
    const t = await stack.createTenant('Concurrent uploads');
    const other = await stack.createTenant('Other uploader');
    const id = await createIntegration(app, t.auth);
    const otherId = await createIntegration(app, other.auth);
    const server = await serve(app);
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = chunkedUpload(server.url, t.auth, `/v1/integrations/${id}/files/products`, [Buffer.from('code\n'), Buffer.from('A-1\n')], held);
      const { db } = stack.database;
      await until('the first upload to be receiving', async () => (await db.select().from(erpUploads).where(and(eq(erpUploads.tenantId, t.id), eq(erpUploads.status, 'receiving')))).length === 1);

      const second = await upload(app, t.auth, id, 'inventory', Buffer.from('code;qty\nA-1;1\n'));
      expectQuota(second, 429, /^quota concurrent_uploads: 1 of 1 used \(TENANT_MAX_CONCURRENT_UPLOADS\)/);
      expect(second.headers['retry-after']).toBe('10');
      await upload(app, other.auth, otherId, 'products', Buffer.from('code\nB-1\n')).expect(201);

      release();
      expect((await first).status).toBe(201);
      await upload(app, t.auth, id, 'inventory', Buffer.from('code;qty\nA-1;1\n')).expect(201);
    } finally {
      server.close();
    }
  }, 60_000);
});
