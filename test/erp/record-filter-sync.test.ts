import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCatalog } from '../../emulators/erp/emulator.js';
import { createIntegration, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture();
});
afterAll(async () => {
  await f?.close();
});

describe('ERP stream filter', () => {
  it('skips the rows the filter rejects before mapping: counted as filtered, never dead-lettered, the watermark still moves', async () => {
    const { stack, erp } = f;
    // 30 products, every fifth inactive (Aktif 'H'): 24 active.
    seedCatalog(erp, 30);
    const at = Date.UTC(2026, 0, 1);
    // An inactive row that would not map (no UrunAdi): filtered, so no dead letter.
    erp.put('urunler', { StokKodu: 'STK-BAD1', Aciklama: '', Aktif: 'H' }, at + 31_000);
    // An active row that does not map: dead-lettered as before.
    erp.put('urunler', { StokKodu: 'STK-BAD2', Aciklama: '', Aktif: ' E ' }, at + 32_000);
    // The newest row is filtered out: the watermark still reaches it.
    erp.put('urunler', { StokKodu: 'STK-ZZZ', UrunAdi: 'Eski', Aciklama: '', Aktif: 'H' }, at + 33_000);

    const t = await stack.createTenant('ERP filter tenant');
    const body = restIntegrationBody(erp.url, 10);
    const products = { ...body.connector.streams.products, filter: [{ path: 'Aktif', equals: 'E' }, { path: 'StokKodu', exists: true }] };
    const id = await createIntegration(stack, t.auth, { ...body, connector: { ...body.connector, streams: { ...body.connector.streams, products } } });

    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const run = await waitForRun(stack, t.auth, id, runId, 60_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toEqual({ read: 25, valid: 24, invalid: 1, upserted: 24, unchanged: 0, filtered: 8 });
    expect(run.checkpoint.watermark).toEqual({ watermark: '2026-01-01T00:00:33Z', key: 'STK-ZZZ' });

    const catalog = await readCatalog(stack, t.auth, 'products');
    expect(catalog.map((p) => p.sku)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1)
        .filter((i) => i % 5 !== 0)
        .map((i) => `STK-${String(i).padStart(5, '0')}`),
    );
    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(dead.body.data.map((d: { raw: { StokKodu: string } }) => d.raw.StokKodu)).toEqual(['STK-BAD2']);

    // A stream without a filter keeps the counts it always had (no `filtered`).
    const pricesRun = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'prices', 'full'), 60_000);
    expect(pricesRun.counts).toEqual({ read: 30, valid: 30, invalid: 0, upserted: 30, unchanged: 0 });
  }, 120_000);

  it('refuses a malformed filter on save, naming the field', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('ERP bad filter tenant');
    const body = restIntegrationBody(erp.url, 10);
    const send = (filter: unknown) =>
      request(stack.app)
        .post('/v1/integrations')
        .set(t.auth)
        .send({ ...body, connector: { ...body.connector, streams: { ...body.connector.streams, products: { ...body.connector.streams.products, filter } } } });
    const empty = await send([{ path: 'Aktif' }]);
    expect(empty.status).toBe(400);
    expect(JSON.stringify(empty.body.error.details)).toContain('a condition needs equals, notEquals, in or exists');
    const badPath = await send([{ path: 'a..b', equals: 'x' }]);
    expect(badPath.status).toBe(400);
    expect(badPath.body.error.details.map((d: { path: string }) => d.path)).toContain('body.connector.streams.products.filter.0.path');
    const regex = await send([{ path: 'Aktif', matches: '^(a+)+$' }]);
    expect(regex.status).toBe(400);
  });
});
