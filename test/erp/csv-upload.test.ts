/**
 * CSV files uploaded to an integration: stored in chunks through the API, then synced end to end by
 * a CSV stream with `upload: true` (the newest upload wins), with clear 4xx answers for bad uploads.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, count, eq } from 'drizzle-orm';
import iconv from 'iconv-lite';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogProducts } from '../../src/db/tables/erp.js';
import { erpUploadChunks, erpUploads } from '../../src/db/tables/erp-uploads.js';
import { createIntegration, getRun, startSync, waitForRun, type ErpFixture, startErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture();
});
afterAll(async () => {
  await f?.close();
});

/** A Windows-1254 export with semicolons, CRLF and a quoted newline; about 75 bytes a row. */
function exportFile(rows: number, name: (i: number) => string): Buffer {
  const lines = ['StokKodu;UrunAdi;Aktif'];
  for (let i = 1; i <= rows; i++) lines.push(`Y-${String(i).padStart(6, '0')};"${name(i)}";${i % 4 === 0 ? 'H' : 'E'}`);
  return iconv.encode(`${lines.join('\r\n')}\r\n`, 'win1254');
}

const uploadIntegration = {
  name: 'Uploaded CSV',
  type: 'polling',
  connector: { type: 'csv', streams: { products: { upload: true, pageSize: 2000 }, inventory: { url: 'https://erp.example.com/stock.csv' } } },
  settings: { intervalSeconds: 3600 },
  mappings: {
    products: [
      { sourceField: 'StokKodu', targetField: 'sku', required: true },
      { sourceField: 'UrunAdi', targetField: 'name', required: true },
      { sourceField: 'Aktif', targetField: 'active', transformation: { type: 'boolean' } },
    ],
    inventory: [
      { sourceField: 'StokKodu', targetField: 'sku', required: true },
      { sourceField: 'Miktar', targetField: 'quantity', transformation: 'integer', required: true },
    ],
  },
};

describe('uploaded CSV files', () => {
  it('stores an upload in chunks and syncs the newest upload end to end', async () => {
    const { stack } = f;
    const { db } = stack.database;
    const t = await stack.createTenant('Upload tenant');
    const id = await createIntegration(stack, t.auth, uploadIntegration);

    // Nothing uploaded yet: the run fails and says why.
    const early = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(early.status).toBe('failed');
    expect(JSON.stringify(early.errors)).toMatch(/no file has been uploaded for products/);

    const first = exportFile(30_000, (i) => `Ürün ${i}; ağır\r\nçeşit`);
    expect(first.length).toBeGreaterThan(1024 * 1024);
    const put = await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(t.auth).set('Content-Type', 'text/csv').send(first);
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect(put.body).toMatchObject({ object: 'integration_file', integrationId: id, entity: 'products', size: first.length });
    // Stored as more than one chunk, never as one value of the whole file.
    const [chunks] = await db.select({ n: count() }).from(erpUploadChunks).where(eq(erpUploadChunks.uploadId, put.body.id));
    expect(chunks!.n).toBeGreaterThan(1);

    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'), 180_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toEqual({ read: 30_000, valid: 30_000, invalid: 0, upserted: 30_000, unchanged: 0 });
    // 15 full pages, then the empty last one that says the file has ended.
    expect(run.checkpoint.pages).toBe(16);
    const [stored] = await db.select({ n: count() }).from(catalogProducts).where(eq(catalogProducts.tenantId, t.id));
    expect(stored!.n).toBe(30_000);
    const [row] = await db.select().from(catalogProducts).where(and(eq(catalogProducts.tenantId, t.id), eq(catalogProducts.sku, 'Y-012345')));
    expect(row).toMatchObject({ name: 'Ürün 12345; ağır\r\nçeşit', active: true });

    // A newer upload (as octet-stream) replaces it for the next run.
    const second = exportFile(3, (i) => `Yeni ${i}`);
    await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(t.auth).set('Content-Type', 'application/octet-stream').send(second).expect(201);
    const next = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(next.status, JSON.stringify(next.errors)).toBe('succeeded');
    expect(next.counts).toMatchObject({ read: 3, upserted: 3 });
    const [renamed] = await db.select().from(catalogProducts).where(and(eq(catalogProducts.tenantId, t.id), eq(catalogProducts.sku, 'Y-000002')));
    expect(renamed).toMatchObject({ name: 'Yeni 2' });
    expect((await getRun(stack, t.auth, id, next.id)).checkpoint).toMatchObject({ done: true });
  }, 300_000);

  it('answers 413 for a file over the limit (declared or streamed), 415 for another media type, 400 for a stream without uploads, 404 for another tenant', async () => {
    const { stack } = f;
    const { db } = stack.database;
    const t = await stack.createTenant('Upload limits tenant');
    const id = await createIntegration(stack, t.auth, uploadIntegration);
    const small = stack.makeApp({ erpUploadMaxBytes: 1000 });
    const file = exportFile(100, (i) => `Ürün ${i}`);

    const declared = await request(small).put(`/v1/integrations/${id}/files/products`).set(t.auth).set('Content-Type', 'text/csv').send(file);
    expect(declared.status).toBe(413);
    expect(declared.body.error.message).toMatch(/larger than the limit of 1000 bytes/);

    // Chunked (no Content-Length): the limit is enforced while streaming and the partial upload is removed.
    const server = small.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'PUT', path: `/v1/integrations/${id}/files/products`, headers: { ...t.auth, 'content-type': 'text/csv' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < file.length; i += 500) req.write(file.subarray(i, i + 500));
      req.end();
    });
    server.close();
    expect(streamed).toBe(413);
    const [left] = await db.select({ n: count() }).from(erpUploads).where(eq(erpUploads.integrationId, id));
    expect(left!.n).toBe(0);

    const json = await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(t.auth).send({ rows: [] });
    expect(json.status).toBe(415);
    expect(json.body.error.message).toMatch(/text\/csv, application\/octet-stream/);
    const plain = await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(t.auth).set('Content-Type', 'text/plain').send('a;b');
    expect(plain.status).toBe(415);

    const notUpload = await request(stack.app).put(`/v1/integrations/${id}/files/inventory`).set(t.auth).set('Content-Type', 'text/csv').send(file);
    expect(notUpload.status).toBe(400);
    expect(notUpload.body.error.details[0]).toMatchObject({ path: 'params.entity' });
    const badEntity = await request(stack.app).put(`/v1/integrations/${id}/files/widgets`).set(t.auth).set('Content-Type', 'text/csv').send(file);
    expect(badEntity.status).toBe(400);

    const other = await stack.createTenant('Someone else');
    await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(other.auth).set('Content-Type', 'text/csv').send(file).expect(404);

    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, { requestBody?: { content: object } }>> };
    expect(Object.keys(doc.paths['/v1/integrations/{id}/files/{entity}']!.put!.requestBody!.content)).toEqual(['text/csv', 'application/octet-stream']);
  }, 120_000);

  it('one uploaded export feeds products and inventory (alsoFeeds), page by page with the checkpoint, with the source change time', async () => {
    const { stack } = f;
    const t = await stack.createTenant('Shared CSV tenant');
    const id = await createIntegration(stack, t.auth, {
      ...uploadIntegration,
      connector: {
        type: 'csv',
        streams: {
          products: {
            upload: true,
            pageSize: 3,
            incremental: { cursorField: 'Degisim', format: 'dd.MM.yyyy HH:mm:ss', zone: 'Europe/Istanbul', keyField: 'StokKodu' },
            alsoFeeds: ['inventory'],
          },
        },
      },
      settings: { intervalSeconds: 3600, warehouse: 'MERKEZ' },
    });
    const lines = ['StokKodu;UrunAdi;Aktif;Miktar;Degisim'];
    for (let i = 1; i <= 10; i++) lines.push(`S-${String(i).padStart(2, '0')};Ürün ${i};E;${i === 7 ? 'yedi' : i * 10};13.01.2026 10:00:${String(i).padStart(2, '0')}`);
    await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(t.auth).set('Content-Type', 'text/csv').send(iconv.encode(`${lines.join('\r\n')}\r\n`, 'win1254')).expect(201);

    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    // 10 rows for two entities; the stock of S-07 is not a number (an inventory dead letter), its product applies.
    expect(run.counts).toEqual({ read: 20, valid: 19, invalid: 1, upserted: 19, unchanged: 0 });
    expect(run.checkpoint.pages).toBe(4);
    const [products, inventory] = await Promise.all(['products', 'inventory'].map((e) => request(stack.app).get(`/v1/catalog/${e}`).set(t.auth).expect(200)));
    expect(products!.body.data.map((r: { sku: string }) => r.sku)).toHaveLength(10);
    expect(inventory!.body.data.map((r: { sku: string; quantity: number }) => [r.sku, r.quantity])).toEqual(
      [1, 2, 3, 4, 5, 6, 8, 9, 10].map((i) => [`S-${String(i).padStart(2, '0')}`, i * 10]),
    );
    expect(inventory!.body.data[0]).toMatchObject({ warehouse: 'MERKEZ', sourceChangedAt: '2026-01-13T07:00:01.000Z' });
    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(dead.body.data.map((d: { entity: string; raw: { StokKodu: string } }) => [d.entity, d.raw.StokKodu])).toEqual([['inventory', 'S-07']]);
  }, 120_000);

  it('refuses a CSV stream with both or neither of url and upload', async () => {
    const { stack } = f;
    const t = await stack.createTenant('Upload validation tenant');
    for (const products of [{ upload: true, url: 'https://erp.example.com/p.csv' }, { pageSize: 10 }]) {
      const res = await request(stack.app)
        .post('/v1/integrations')
        .set(t.auth)
        .send({ ...uploadIntegration, connector: { type: 'csv', streams: { products } }, mappings: { products: uploadIntegration.mappings.products } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error.details)).toMatch(/body\.connector\.streams\.products\.url.*either url or upload/);
    }
  });
});
