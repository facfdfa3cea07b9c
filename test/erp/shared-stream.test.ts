/**
 * One stream feeding several entities (`alsoFeeds`): the ERP's item cards carry product, price and
 * stock in one record; one read of each page maps it with the three mappings, and the three writes
 * commit with the page's checkpoint in one transaction, so a worker killed mid-run counts nothing
 * twice and loses nothing.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERP_TIME_FORMAT, ERP_ZONE, formatTurkishAmount, seedItemCards } from '../../emulators/erp/emulator.js';
import { startWorkerProcess } from '../support/processes.js';
import { createIntegration, getRun, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ startWorker: false, tokenTtlSeconds: 30 });
});
afterAll(async () => {
  await f?.close();
});

/** The cookbook's stream (docs/erp-integrations.md): item cards read once for products, prices and inventory. */
function itemCardsIntegration(pageSize: number) {
  const body = restIntegrationBody(f.erp.url, pageSize);
  const products = body.connector.streams.products;
  const incremental = { cursorField: 'GuncellemeTarihi', format: ERP_TIME_FORMAT, zone: ERP_ZONE, keyField: 'StokKodu', request: { param: 'guncellemeSonrasiUtc' }, lookbackSeconds: 60 };
  return {
    ...body,
    connector: { ...body.connector, streams: { products: { ...products, path: '/api/v1/malzemeler', incremental, alsoFeeds: ['prices', 'inventory'] } } },
    mappings: {
      products: body.mappings.products.filter((m) => m.sourceField !== 'Aciklama'),
      prices: body.mappings.prices,
      inventory: body.mappings.inventory,
    },
  };
}

const card = (i: number, fiyat: string) => ({
  StokKodu: `MLZ-${String(i).padStart(5, '0')}`,
  UrunAdi: `Malzeme ${i}`,
  Aktif: i % 5 === 0 ? 'H' : 'E',
  Fiyat: fiyat,
  ParaBirimi: 'TRY',
  Depo: 'MERKEZ',
  Miktar: String(i % 30),
});

describe('one stream feeding products, prices and inventory', () => {
  let tenant: { auth: { Authorization: string } };
  let id: string;

  it('a worker killed mid-run: the run resumes from the last committed page and each entity gets every record once', async () => {
    const { stack, erp } = f;
    seedItemCards(erp, 400);
    tenant = await stack.createTenant('Item cards tenant');
    id = await createIntegration(stack, tenant.auth, itemCardsIntegration(10));
    erp.setFaults({ rate429: 0.05, rate500: 0.05, retryAfterSeconds: 1 }, 5);

    const child = await startWorkerProcess(stack);
    const runId = await startSync(stack, tenant.auth, id, 'products', 'full');
    const deadline = Date.now() + 60_000;
    let before = await getRun(stack, tenant.auth, id, runId);
    while (before.checkpoint.pages < 5) {
      if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(before)}`);
      await new Promise((r) => setTimeout(r, 50));
      before = await getRun(stack, tenant.auth, id, runId);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await getRun(stack, tenant.auth, id, runId);
    expect(atKill.checkpoint.done).toBe(false);
    // What a killed page left behind: the three entities hold the same records, those of the committed pages.
    const committed = (await readCatalog(stack, tenant.auth, 'products')).length;
    expect((await readCatalog(stack, tenant.auth, 'prices')).length).toBe(committed);
    expect((await readCatalog(stack, tenant.auth, 'inventory')).length).toBe(committed);

    await stack.startWorker();
    const run = await waitForRun(stack, tenant.auth, id, runId, 150_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    // Counts add up the three entities: 400 records, each read for three entities, written once each.
    expect(run.counts).toEqual({ read: 1200, valid: 1200, invalid: 0, upserted: 1200, unchanged: 0 });
    expect(run.checkpoint.pages).toBe(40);
    // Only the item cards endpoint was read.
    expect(new Set(erp.requests.map((r) => r.stream))).toEqual(new Set(['malzemeler']));
    // The killed attempt timed out on its heartbeat and a new attempt carried on.
    const history = await stack.temporal.workflow.getHandle(`erp-${id}-products-${runId}`).fetchHistory();
    expect((history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);

    const skus = erp.ordered('malzemeler').map((r) => r.key).sort();
    const [products, prices, inventory] = await Promise.all(['products', 'prices', 'inventory'].map((e) => readCatalog(stack, tenant.auth, e)));
    expect(products!.map((p) => p.sku)).toEqual(skus);
    expect(prices!.map((p) => p.sku)).toEqual(skus);
    expect(inventory!.map((p) => p.sku)).toEqual(skus);
    expect(products!.find((p) => p.sku === 'MLZ-00005')).toMatchObject({ name: 'Malzeme 5', active: false, sourceChangedAt: '2026-01-01T00:00:05.000Z' });
    expect(prices!.find((p) => p.sku === 'MLZ-00005')).toMatchObject({ amountMinor: 5055, currency: 'TRY', priceList: 'retail', sourceChangedAt: '2026-01-01T00:00:05.000Z' });
    expect(inventory!.find((p) => p.sku === 'MLZ-00035')).toMatchObject({ quantity: 5, warehouse: 'MERKEZ', sourceChangedAt: '2026-01-01T00:00:35.000Z' });
  }, 240_000);

  it('an incremental run reads each page once and maps it per entity: a bad price is a price dead letter, its product and stock still apply', async () => {
    const { stack, erp } = f;
    erp.setFaults({ rate429: 0, rate500: 0 });
    const later = Date.UTC(2026, 0, 2);
    erp.put('malzemeler', card(2, formatTurkishAmount(777_00)), later + 2000);
    erp.put('malzemeler', { ...card(3, formatTurkishAmount(888_00)), Miktar: '999' }, later + 3000);
    erp.put('malzemeler', card(4, 'on iki lira'), later + 4000);
    const before = erp.requests.length;
    const runId = await startSync(stack, tenant.auth, id, 'products', 'incremental');
    const run = await waitForRun(stack, tenant.auth, id, runId);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    // Asked from the watermark (MLZ-00400 at 00:06:40Z) minus the 60 s lookback: the ERP answers the
    // 60 cards changed after 00:05:40 and the 3 changed ones, one request per page of 10; the 60 at or
    // before the watermark are skipped, so only the 3 changes are counted.
    const served = erp.requests.slice(before);
    expect(served.map((r) => [r.stream, r.status, r.sinceUtc])).toEqual(Array(7).fill(['malzemeler', 200, '2026-01-01T00:05:40.000Z']));
    expect(served.map((r) => r.records)).toEqual([10, 10, 10, 10, 10, 10, 3]);
    // 3 records × 3 entities: products unchanged (3), prices 2 written and 1 invalid, stock 1 written and 2 unchanged.
    expect(run.counts).toEqual({ read: 9, valid: 8, invalid: 1, upserted: 3, unchanged: 5 });

    const prices = await readCatalog(stack, tenant.auth, 'prices');
    expect(prices.find((p) => p.sku === 'MLZ-00002')).toMatchObject({ amountMinor: 777_00, sourceChangedAt: '2026-01-02T00:00:02.000Z' });
    const inventory = await readCatalog(stack, tenant.auth, 'inventory');
    expect(inventory.find((p) => p.sku === 'MLZ-00003')).toMatchObject({ quantity: 999 });
    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(tenant.auth).expect(200);
    expect(dead.body.data.map((d: { entity: string; raw: { StokKodu: string } }) => [d.entity, d.raw.StokKodu])).toEqual([['prices', 'MLZ-00004']]);

    // The fed entities have no runs of their own: a sync of prices says which stream to sync.
    const refused = await request(stack.app).post(`/v1/integrations/${id}/sync`).set(tenant.auth).send({ entity: 'prices', mode: 'incremental' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('prices is read by the products stream: sync products');
    // A definition that feeds an entity twice, or feeds one whose feeding entity is unmapped, is refused naming the field.
    const body = itemCardsIntegration(10);
    const twice = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(tenant.auth)
      .send({ connector: { ...body.connector, streams: { ...body.connector.streams, prices: { path: '/api/v1/fiyatlar' } } } });
    expect(twice.status).toBe(400);
    expect(twice.body.error.details).toContainEqual({ path: 'body.connector.streams.products.alsoFeeds.0', message: 'prices has a stream of its own; remove one of the two' });
    const orphan = await request(stack.app).patch(`/v1/integrations/${id}`).set(tenant.auth).send({ mappings: { products: null } }); // a merge patch: null removes the products mapping, prices stays
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.details).toEqual(
      ['prices', 'inventory'].map((e) => ({ path: 'body.mappings.products', message: `'${e}' is read by the products stream, which runs only when products is mapped too` })),
    );
  }, 120_000);
});
