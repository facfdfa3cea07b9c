import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTurkishAmount, seedCatalog } from '../../emulators/erp/emulator.js';
import { createIntegration, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 30 });
  seedCatalog(f.erp, 30);
});
afterAll(async () => {
  await f?.close();
});

type Auth = { Authorization: string };

interface EventView {
  id: string;
  type: string;
  sequence: number;
  resource: { type: string; id: string };
  data: Record<string, unknown>;
}

/** Every event of the tenant matching `type` (patterns allowed), oldest first, following the cursors. */
async function eventsOf(auth: Auth, type: string): Promise<EventView[]> {
  const all: EventView[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { data: EventView[]; hasMore: boolean; nextCursor: string | null } } = await request(f.stack.app)
      .get('/v1/events')
      .query({ type, order: 'asc', limit: 100, ...(cursor ? { cursor } : {}) })
      .set(auth)
      .expect(200);
    all.push(...res.body.data);
    cursor = res.body.hasMore ? res.body.nextCursor : null;
  } while (cursor);
  return all;
}

const getRun = async (auth: Auth, id: string, runId: string) => (await request(f.stack.app).get(`/v1/integrations/${id}/runs/${runId}`).set(auth).expect(200)).body as Record<string, unknown>;
const getIntegration = async (auth: Auth, id: string) => (await request(f.stack.app).get(`/v1/integrations/${id}`).set(auth).expect(200)).body as Record<string, unknown>;

describe('ERP events', () => {
  it('a sync announces each record it wrote with its catalog row and the run with its GET view; a re-sync of unchanged records announces only the run', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('ERP events');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 10));
    const skus = erp.ordered('urunler').map((r) => r.key);

    const first = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(first.counts).toMatchObject({ read: skus.length, upserted: skus.length });
    const products = await eventsOf(t.auth, 'product.updated');
    expect(products.map((e) => [e.resource.type, e.resource.id, e.sequence])).toEqual(skus.map((sku) => ['product', sku, 1]));
    const catalog = new Map((await readCatalog(stack, t.auth, 'products')).map((p) => [p.sku as string, p]));
    for (const event of products) expect(event.data).toEqual(catalog.get(event.resource.id));
    expect(products[0]!.data).toMatchObject({ integrationId: id });
    let runs = await eventsOf(t.auth, 'erp.run.*');
    expect(runs.map((e) => [e.type, e.resource])).toEqual([['erp.run.completed', { type: 'integration_run', id: first.id }]]);
    expect(runs[0]!.data).toEqual(await getRun(t.auth, id, first.id));

    // Unchanged records: nothing written, nothing announced but the run.
    const again = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(again.counts).toMatchObject({ upserted: 0, unchanged: skus.length });
    expect(await eventsOf(t.auth, 'product.updated')).toHaveLength(skus.length);
    runs = await eventsOf(t.auth, 'erp.run.*');
    expect(runs.map((e) => [e.type, e.resource.id, e.data.counts])).toEqual([
      ['erp.run.completed', first.id, first.counts],
      ['erp.run.completed', again.id, again.counts],
    ]);

    // One product changes: one more event for it, its second.
    const changed = skus[4]!;
    erp.put('urunler', { StokKodu: changed, UrunAdi: 'Yeni ad', Aciklama: '', Aktif: 'E' }, Date.UTC(2026, 0, 2));
    const inc = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'incremental'));
    expect(inc.counts).toMatchObject({ upserted: 1 });
    const after = await eventsOf(t.auth, 'product.updated');
    expect(after.slice(skus.length).map((e) => [e.resource.id, e.sequence, e.data.name])).toEqual([[changed, 2, 'Yeni ad']]);

    // Stock and prices announce theirs under their own types.
    await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'inventory', 'full'));
    const stock = await eventsOf(t.auth, 'inventory.changed');
    expect(stock.map((e) => e.resource)).toEqual(erp.ordered('stoklar').map((r) => ({ type: 'inventory', id: `${r.key}|MERKEZ` })));
    const inventory = await readCatalog(stack, t.auth, 'inventory');
    expect(stock.map((e) => e.data)).toEqual(stock.map((e) => inventory.find((row) => `${row.sku as string}|${row.warehouse as string}` === e.resource.id)));
  }, 120_000);

  it('a dead letter is announced as the dead-letter list shows it, the valid records of its page as price.updated', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('ERP dead letters');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 50));
    erp.put('fiyatlar', { StokKodu: 'EV-BAD', FiyatListesi: 'P', Fiyat: '12.5', ParaBirimi: 'TRY' }, Date.UTC(2026, 5, 2));
    erp.put('fiyatlar', { StokKodu: 'EV-OK', FiyatListesi: 'P', Fiyat: formatTurkishAmount(4990), ParaBirimi: 'TRY' }, Date.UTC(2026, 5, 3));
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'prices', 'full'));
    const total = erp.ordered('fiyatlar').length;
    expect(run.counts).toMatchObject({ read: total, valid: total - 1, invalid: 1, upserted: total - 1 });

    const dead = (await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200)).body.data as { id: string }[];
    const events = await eventsOf(t.auth, 'erp.dead_letter.created');
    expect(events.map((e) => [e.resource, e.sequence])).toEqual([[{ type: 'dead_letter', id: dead[0]!.id }, 1]]);
    expect(events[0]!.data).toEqual(dead[0]);
    const prices = await eventsOf(t.auth, 'price.updated');
    expect(prices).toHaveLength(total - 1);
    expect(prices.find((e) => e.resource.id === 'EV-OK|retail|TRY')?.data).toMatchObject({ sku: 'EV-OK', amountMinor: 4990, priceList: 'retail', integrationId: id });
  }, 60_000);

  it('a page whose transaction rolls back after its upsert leaves no event; its retry announces each record once', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('ERP rollback');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 10));
    // The first page's checkpoint update is skipped once (a BEFORE trigger returning null): the
    // activity finds it stored by no one, throws inside the page's transaction and is retried.
    await stack.database.db.execute(
      sql.raw(`
      create sequence if not exists erp_events_test_skips;
      create or replace function erp_events_test_skip() returns trigger language plpgsql as $$
      begin
        if new.tenant_id = '${t.id}' and (new.checkpoint->>'pages')::int = 1 and nextval('erp_events_test_skips') = 1 then return null; end if;
        return new;
      end $$;
      create trigger erp_events_test_skip before update on erp_runs for each row execute function erp_events_test_skip();`),
    );
    try {
      const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
      expect(run.status).toBe('succeeded');
      const skus = erp.ordered('urunler').map((r) => r.key);
      expect(run.counts).toMatchObject({ read: skus.length, upserted: skus.length });
      // The skip happened (the sequence was drawn: once for the skipped update, once for its retry).
      const [skips] = (await stack.database.db.execute(sql.raw('select last_value, is_called from erp_events_test_skips'))) as unknown as { last_value: string; is_called: boolean }[];
      expect(skips).toEqual({ last_value: '2', is_called: true });
      // Every record once, numbered 1: the rolled-back attempt wrote no event and took no number.
      const products = await eventsOf(t.auth, 'product.updated');
      expect(products.map((e) => [e.resource.id, e.sequence])).toEqual(skus.map((sku) => [sku, 1]));
    } finally {
      await stack.database.db.execute(sql.raw('drop trigger if exists erp_events_test_skip on erp_runs'));
    }
  }, 60_000);

  it('pausing announces integration.paused with the integration as GET shows it, by the API and after failed runs', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('ERP pause');
    const body = restIntegrationBody(erp.url);
    const id = await createIntegration(stack, t.auth, { ...body, settings: { ...body.settings, pauseAfterFailures: 1 } });

    await request(stack.app).post(`/v1/integrations/${id}/pause`).set(t.auth).expect(200);
    let paused = await eventsOf(t.auth, 'integration.paused');
    expect(paused.map((e) => [e.resource, e.sequence])).toEqual([[{ type: 'integration', id }, 1]]);
    expect(paused[0]!.data).toEqual(await getIntegration(t.auth, id));
    expect(paused[0]!.data).toMatchObject({ status: 'paused', pausedReason: 'paused through the API' });
    // Already paused: no second event.
    await request(stack.app).post(`/v1/integrations/${id}/pause`).set(t.auth).expect(200);
    expect(await eventsOf(t.auth, 'integration.paused')).toHaveLength(1);

    // Resumed with credentials the ERP refuses, one failed run pauses it again.
    await request(stack.app).post(`/v1/integrations/${id}/resume`).set(t.auth).expect(200);
    await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ credentials: { ...body.credentials, password: 'yanlis' } }).expect(200);
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(run.status).toBe('failed');
    const failed = await eventsOf(t.auth, 'erp.run.*');
    expect(failed.map((e) => [e.type, e.resource.id])).toEqual([['erp.run.failed', run.id]]);
    expect(failed[0]!.data).toEqual(await getRun(t.auth, id, run.id));
    paused = await eventsOf(t.auth, 'integration.paused');
    expect(paused.map((e) => e.sequence)).toEqual([1, 2]);
    expect(paused[1]!.data).toEqual(await getIntegration(t.auth, id));
    expect(paused[1]!.data.pausedReason).toMatch(/^paused after 1 failed runs in a row/);
  }, 60_000);
});
