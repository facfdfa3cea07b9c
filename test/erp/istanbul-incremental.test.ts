/**
 * The Istanbul cookbook end to end: an ERP whose records carry 'dd.MM.yyyy HH:mm:ss' Istanbul time
 * while its filter wants ISO 8601 in UTC (changed strictly after), on the 13th of a month; a lookback
 * that catches a change committed late at the watermark's own second without counting the rows it
 * re-reads; and the source's change time on the catalog rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERP_TIME_FORMAT, ERP_ZONE } from '../../emulators/erp/emulator.js';
import { createIntegration, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 30 });
});
afterAll(async () => {
  await f?.close();
});

/** The Defter integration with its products stream filtered by guncellemeSonrasiUtc. */
function istanbulIntegration(lookbackSeconds?: number) {
  const body = restIntegrationBody(f.erp.url, 10);
  return {
    ...body,
    connector: {
      ...body.connector,
      streams: {
        products: {
          path: '/api/v1/urunler',
          query: { adet: '10' },
          recordPath: 'kayitlar',
          pagination: { type: 'cursor', cursorPath: 'sonrakiImlec', param: 'imlec' },
          incremental: {
            cursorField: 'GuncellemeTarihi',
            format: ERP_TIME_FORMAT,
            zone: ERP_ZONE,
            keyField: 'StokKodu',
            request: { param: 'guncellemeSonrasiUtc' },
            ...(lookbackSeconds ? { lookbackSeconds } : {}),
          },
        },
      },
    },
    mappings: { products: body.mappings.products },
  };
}

const product = (sku: string, name: string) => ({ StokKodu: sku, UrunAdi: name, Aciklama: '', Aktif: 'E' });
/** 13 January 2026, 10:00:00 in Istanbul: 07:00:00 UTC. */
const THIRTEENTH = Date.UTC(2026, 0, 13, 7);

describe('an ERP with Istanbul records and an ISO 8601 UTC filter', () => {
  it('sends the watermark in UTC, reads exactly the changes since it, and keeps the source change time on the rows', async () => {
    const { stack, erp } = f;
    for (let i = 1; i <= 25; i++) erp.put('urunler', product(`IST-${String(i).padStart(3, '0')}`, `Ürün ${i}`), THIRTEENTH + i * 1000);
    const t = await stack.createTenant('Istanbul tenant');
    const id = await createIntegration(stack, t.auth, istanbulIntegration());

    const full = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(full.status, JSON.stringify(full.errors)).toBe('succeeded');
    expect(full.counts).toEqual({ read: 25, valid: 25, invalid: 0, upserted: 25, unchanged: 0 });
    expect(full.checkpoint.watermark).toEqual({ watermark: '2026-01-13T07:00:25Z', key: 'IST-025' });
    const rows = await readCatalog(stack, t.auth, 'products');
    // "13.01.2026 10:00:07" in Istanbul is 07:00:07 UTC.
    expect(rows.find((r) => r.sku === 'IST-007')).toMatchObject({ sourceChangedAt: '2026-01-13T07:00:07.000Z' });

    // One change an hour after the watermark (inside the three hours a local time read as UTC would
    // skip), two the next day.
    erp.put('urunler', product('IST-003', 'Yeni 3'), THIRTEENTH + 3600_000);
    erp.put('urunler', product('IST-010', 'Yeni 10'), Date.UTC(2026, 0, 14, 9, 30));
    erp.put('urunler', product('IST-026', 'Yeni 26'), Date.UTC(2026, 0, 14, 9, 31));
    const before = erp.requests.length;
    const inc = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'incremental'));
    expect(inc.status, JSON.stringify(inc.errors)).toBe('succeeded');
    expect(inc.counts).toEqual({ read: 3, valid: 3, invalid: 0, upserted: 3, unchanged: 0 });
    const served = erp.requests.slice(before).filter((r) => r.status === 200);
    expect(served.map((r) => r.sinceUtc)).toEqual(['2026-01-13T07:00:25.000Z']);
    expect(inc.checkpoint.watermark).toEqual({ watermark: '2026-01-14T09:31:00Z', key: 'IST-026' });
    const after = await readCatalog(stack, t.auth, 'products');
    expect(after.find((r) => r.sku === 'IST-003')).toMatchObject({ name: 'Yeni 3', sourceChangedAt: '2026-01-13T08:00:00.000Z' });
    expect(after.find((r) => r.sku === 'IST-026')).toMatchObject({ sourceChangedAt: '2026-01-14T09:31:00.000Z' });
  }, 120_000);

  it('a lookback catches a change committed late at the watermark’s second; the re-read rows are not counted again', async () => {
    const { stack, erp } = f;
    const from = Date.UTC(2026, 1, 13, 7);
    for (let i = 1; i <= 5; i++) erp.put('urunler', product(`LB-${i}`, `Lb ${i}`), from + i * 1000);
    const plain = await stack.createTenant('No lookback tenant');
    const withLookback = await stack.createTenant('Lookback tenant');
    const plainId = await createIntegration(stack, plain.auth, istanbulIntegration());
    const lookbackId = await createIntegration(stack, withLookback.auth, istanbulIntegration(60));
    // Both start at the same watermark, the newest record (the one above is older).
    for (const [auth, id] of [[plain.auth, plainId], [withLookback.auth, lookbackId]] as const) {
      const run = await waitForRun(stack, auth, id, await startSync(stack, auth, id, 'products', 'full'));
      expect(run.checkpoint.watermark).toEqual({ watermark: '2026-02-13T07:00:05Z', key: 'LB-5' });
    }
    // A record changed in the same second as the watermark, with a later key, shows up after the run.
    erp.put('urunler', product('LB-6', 'Geç gelen'), from + 5000);

    const before = erp.requests.length;
    const missed = await waitForRun(stack, plain.auth, plainId, await startSync(stack, plain.auth, plainId, 'products', 'incremental'));
    // The ERP filters "strictly after" the watermark's second: without a lookback LB-6 never comes.
    expect(missed.counts).toMatchObject({ read: 0 });
    expect(erp.requests.slice(before).filter((r) => r.status === 200).map((r) => r.sinceUtc)).toEqual(['2026-02-13T07:00:05.000Z']);

    const mid = erp.requests.length;
    const caught = await waitForRun(stack, withLookback.auth, lookbackId, await startSync(stack, withLookback.auth, lookbackId, 'products', 'incremental'));
    const served = erp.requests.slice(mid).filter((r) => r.status === 200);
    expect(served.map((r) => r.sinceUtc)).toEqual(['2026-02-13T06:59:05.000Z']);
    // LB-1..LB-6 came over the wire; LB-1..LB-5 are at or before the watermark (time, then key) and
    // were applied by the first run: only LB-6 is read, counted and written.
    expect(served.reduce((n, r) => n + r.records, 0)).toBe(6);
    expect(caught.counts).toEqual({ read: 1, valid: 1, invalid: 0, upserted: 1, unchanged: 0 });
    expect(caught.checkpoint.watermark).toEqual({ watermark: '2026-02-13T07:00:05Z', key: 'LB-6' });
    expect((await readCatalog(stack, withLookback.auth, 'products')).map((r) => r.sku).filter((s) => String(s).startsWith('LB-'))).toEqual([
      'LB-1', 'LB-2', 'LB-3', 'LB-4', 'LB-5', 'LB-6',
    ]);
  }, 120_000);
});
