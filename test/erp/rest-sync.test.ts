import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTurkishAmount, seedCatalog } from '../../emulators/erp/emulator.js';
import { createIntegration, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { IntegrationIdAttr } from '../../src/shared/search-attributes.js';
import type { TestStack } from '../support/stack.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 2 });
});
afterAll(async () => {
  await f?.close();
});

interface ReplayView {
  replayId: string;
  workflowId: string;
  runId: string;
  status: string;
  result: { replayed: number; stillInvalid: number; counts: Record<string, number> } | null;
  error: string | null;
}

/** Starts a dead-letter replay (202, a workflow) and follows it until it has an outcome. */
async function replayDeadLetters(stack: TestStack, auth: { Authorization: string }, id: string, ids?: string[]): Promise<ReplayView> {
  const started = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/replay`).set(auth).send(ids ? { ids } : {});
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.body).toMatchObject({ status: 'running', workflowId: `erp-replay-${id}-${started.body.replayId}` });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await request(stack.app).get(`/v1/integrations/${id}/dead-letters/replays/${started.body.replayId}`).set(auth).expect(200);
    if (res.body.status !== 'running') return res.body as ReplayView;
    if (Date.now() > deadline) throw new Error(`replay still running: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('REST ERP sync', () => {
  it('pages through 429s, 500s and expiring tokens, and the catalog equals the source; an incremental run fetches only changes', async () => {
    const { stack, erp } = f;
    seedCatalog(erp, 120);
    const t = await stack.createTenant('ERP tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 10));
    // Retry-After (3 s) is longer than the activity's own backoff would wait (1 s, then 2 s).
    erp.setFaults({ rate429: 0.15, rate500: 0.15, retryAfterSeconds: 3 }, 3);

    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const seenPages: number[] = [];
    const run = await waitForRun(stack, t.auth, id, runId, 120_000, (r) => seenPages.push(r.checkpoint.pages));
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toEqual({ read: 120, valid: 120, invalid: 0, upserted: 120, unchanged: 0 });
    expect(run.checkpoint.watermark).toEqual({ watermark: '2026-01-01T00:02:00Z', key: 'STK-00120' });
    // The checkpoint only moves forward.
    expect(seenPages).toEqual([...seenPages].sort((a, b) => a - b));
    expect(erp.requests.some((r) => r.status === 429)).toBe(true);
    expect(erp.requests.some((r) => r.status === 500)).toBe(true);
    erp.requests.forEach((r, i) => {
      const next = erp.requests[i + 1];
      if (r.status === 429 && next) expect(next.at - r.at).toBeGreaterThanOrEqual(2900);
    });
    // Tokens live 2 s and the run takes longer: they were fetched again.
    expect(erp.tokensIssued).toBeGreaterThanOrEqual(2);
    recordHistoryIfAsked(`erp-${id}-products-${runId}`, 'erp-poll-rest-faults');

    const products = await readCatalog(stack, t.auth, 'products');
    expect(products.map((p) => p.sku)).toEqual(erp.ordered('urunler').map((r) => r.key).sort());
    expect(products.find((p) => p.sku === 'STK-00005')).toMatchObject({ name: 'Ürün 5 — çay bardağı', active: false });
    expect(products.find((p) => p.sku === 'STK-00007')).toMatchObject({ description: 'İnce belli; "özel"\nseri', active: true });

    // Three products change an hour later; the incremental run asks for changes since the watermark.
    erp.setFaults({ rate429: 0, rate500: 0 });
    const later = Date.UTC(2026, 0, 1, 1);
    for (const n of [3, 50, 99]) {
      const sku = `STK-${String(n).padStart(5, '0')}`;
      erp.put('urunler', { StokKodu: sku, UrunAdi: `Yeni ad ${n}`, Aciklama: '', Aktif: 'E' }, later + n * 1000);
    }
    const before = erp.requests.length;
    const incId = await startSync(stack, t.auth, id, 'products', 'incremental');
    const inc = await waitForRun(stack, t.auth, id, incId);
    expect(inc.status).toBe('succeeded');
    expect(inc.counts).toEqual({ read: 3, valid: 3, invalid: 0, upserted: 3, unchanged: 0 });
    const served = erp.requests.slice(before);
    // Istanbul is UTC+3: the watermark 00:02:00Z is sent as local 03:02:00.
    expect(served.every((r) => r.since === '01.01.2026 03:02:00')).toBe(true);
    // Only the changes and the boundary row at the watermark itself came over the wire.
    expect(served.reduce((n, r) => n + r.records, 0)).toBe(4);
    const after = await readCatalog(stack, t.auth, 'products');
    expect(after.find((p) => p.sku === 'STK-00050')).toMatchObject({ name: 'Yeni ad 50' });

    // A full run over unchanged data writes nothing.
    const again = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(again.counts).toMatchObject({ read: 120, upserted: 0, unchanged: 120 });
  }, 240_000);

  it('maps Turkish prices to minor units and sends invalid rows to dead letters, which replay after the mapping is fixed', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Prices tenant');
    const body = restIntegrationBody(erp.url, 50);
    const id = await createIntegration(stack, t.auth, body);
    erp.put('fiyatlar', { StokKodu: 'KOT-1', FiyatListesi: 'P', Fiyat: formatTurkishAmount(129990), ParaBirimi: 'TRY' }, Date.UTC(2026, 5, 1));
    erp.put('fiyatlar', { StokKodu: 'KOT-2', FiyatListesi: 'P', Fiyat: '12.5', ParaBirimi: 'TRY' }, Date.UTC(2026, 5, 2));
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'prices', 'full'));
    expect(run.status).toBe('succeeded');
    const total = erp.ordered('fiyatlar').length;
    expect(run.counts).toMatchObject({ read: total, valid: total - 1, invalid: 1 });
    const prices = await readCatalog(stack, t.auth, 'prices');
    expect(prices.find((p) => p.sku === 'KOT-1')).toMatchObject({ amountMinor: 129990, currency: 'TRY', priceList: 'retail' });

    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(dead.body.data).toHaveLength(1);
    expect(dead.body.data[0]).toMatchObject({ raw: { StokKodu: 'KOT-2', Fiyat: '12.5' }, errors: [{ field: 'amountMinor' }] });

    // "12.5" is a decimal point: a second, dot-decimal parse as fallback is not what we want; the
    // tenant fixes the mapping to accept both by normalizing with a regex first.
    const mappings = {
      ...body.mappings,
      prices: [
        { sourceField: 'StokKodu', targetField: 'sku', required: true },
        {
          sourceField: 'Fiyat',
          targetField: 'amountMinor',
          transformation: [{ type: 'regex', pattern: '^([\\d.,]+)$' }, { type: 'lookup', table: { '12.5': '12,5' }, default: '' }],
        },
        { sourceField: 'ParaBirimi', targetField: 'currency' },
      ],
    };
    // A broken fix is refused with the path of the problem…
    const bad = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .send({ mappings: { ...mappings, prices: [{ sourceField: 'StokKodu', targetField: 'skuu' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toContain('body.mappings.prices.0.targetField');
    // …and so is a pattern RE2 cannot run (a backreference), naming the field and why.
    const backreference = { ...mappings.prices[1], transformation: [{ type: 'regex', pattern: '^(\\d)\\1$' }] };
    const refused = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .send({ mappings: { ...mappings, prices: [mappings.prices[0], backreference, mappings.prices[2]] } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([
      { path: 'body.mappings.prices.1.transformation.0.pattern', message: expect.stringMatching(/not an RE2 pattern \(invalid escape sequence: `\\1`\).*no backreferences or lookarounds/) },
    ]);
    // A connector pointed at another scheme (or, in production, a private address) is refused on save.
    const ssrf = await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .send({ connector: { ...body.connector, baseUrl: 'file:///etc/passwd' } });
    expect(ssrf.status).toBe(400);
    expect(ssrf.body.error.details).toEqual([{ path: 'body.connector.baseUrl', message: expect.stringContaining("scheme 'file'") }]);
    // …a working one is saved, and the replay upserts the letter.
    const fixed = {
      ...mappings,
      prices: [
        { sourceField: 'StokKodu', targetField: 'sku', required: true },
        { sourceField: 'Fiyat', targetField: 'amountMinor', transformation: [{ type: 'number', decimalSeparator: '.' }, { type: 'minorUnits', currencyField: 'ParaBirimi' }] },
        { sourceField: 'ParaBirimi', targetField: 'currency' },
      ],
    };
    // A replay with the mapping still broken leaves the letter open.
    const early = await replayDeadLetters(stack, t.auth, id);
    expect(early).toMatchObject({ status: 'completed', result: { replayed: 0, stillInvalid: 1, counts: { upserted: 0 } }, error: null });
    await request(stack.app).patch(`/v1/integrations/${id}`).set(t.auth).send({ mappings: fixed }).expect(200);
    const replay = await replayDeadLetters(stack, t.auth, id);
    expect(replay).toMatchObject({ status: 'completed', result: { replayed: 1, stillInvalid: 0, counts: { upserted: 1 } } });
    recordHistoryIfAsked(replay.workflowId, 'erp-dead-letter-replay');
    // The replay is a workflow run of its own on the ERP queue, found by tenant and integration in the Temporal UI.
    const described = await stack.temporal.workflow.getHandle(replay.workflowId).describe();
    expect(described).toMatchObject({ type: 'erpDeadLetterReplayWorkflow', taskQueue: stack.taskQueues.erp, runId: replay.runId });
    expect(described.typedSearchAttributes.get(IntegrationIdAttr)).toBe(id);
    // Another tenant cannot read it; an unknown replay is a 404.
    const other = await stack.createTenant('Prices onlooker');
    await request(stack.app).get(`/v1/integrations/${id}/dead-letters/replays/${replay.replayId}`).set(other.auth).expect(404);
    await request(stack.app).get(`/v1/integrations/${id}/dead-letters/replays/dlr_unknown`).set(t.auth).expect(404);
    const after = await readCatalog(stack, t.auth, 'prices');
    expect(after.find((p) => p.sku === 'KOT-2')).toMatchObject({ amountMinor: 1250 });
    const open = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(open.body.data).toHaveLength(0);
  }, 120_000);

  it('continues as new on long runs and still applies every page once', async () => {
    const { stack, erp } = f;
    seedCatalog(erp, 120);
    const t = await stack.createTenant('Long run tenant');
    const id = await createIntegration(stack, t.auth, { ...restIntegrationBody(erp.url, 1), settings: { baseUrl: erp.url, warehouse: 'IST-1', intervalSeconds: 3600 } });
    const total = erp.ordered('stoklar').length;
    expect(total).toBeGreaterThan(100);
    const runId = await startSync(stack, t.auth, id, 'inventory', 'full');
    const run = await waitForRun(stack, t.auth, id, runId, 180_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: total, valid: total, upserted: total });
    expect(run.checkpoint.pages).toBe(total);
    const handle = stack.temporal.workflow.getHandle(`erp-${id}-inventory-${runId}`);
    // The run row turns 'succeeded' in the workflow's last activity, a moment before the workflow
    // itself completes; wait for the close (the handle follows the continue-as-new chain).
    await handle.result();
    const latest = await handle.describe();
    expect(latest.status.name).toBe('COMPLETED');
    // The execution that finished is not the first one: the run continued as new.
    expect(latest.raw.workflowExecutionInfo?.firstRunId).toBeTruthy();
    expect(latest.runId).not.toBe(latest.raw.workflowExecutionInfo?.firstRunId);
    const inventory = await readCatalog(stack, t.auth, 'inventory');
    expect(inventory).toHaveLength(total);
    expect(inventory[0]).toMatchObject({ warehouse: 'IST-1' });
  }, 240_000);
});
