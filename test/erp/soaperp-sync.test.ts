/**
 * Ledgerline, the emulated SOAP ERP, connected end to end by a definition file alone
 * (emulators/soaperp/integration*.yaml posted to POST /v1/integrations with only settings.baseUrl
 * filled in): every item synced exactly once into products, prices and inventory through 429s with
 * and without Retry-After and bursts of 500s.
 */
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { seedLedgerline, SoapErpEmulator } from '../../emulators/soaperp/emulator.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { createIntegration, getRun, readCatalog, startSync, waitForRun } from './erp-fixture.js';

const ITEMS = 205;
const definitionFile = (name: string, baseUrl: string) => {
  const body = parseYaml(readFileSync(`emulators/soaperp/${name}`, 'utf8')) as {
    connector: Record<string, unknown> & { streams: Record<string, Record<string, unknown>> };
    settings: Record<string, unknown>;
  };
  return { ...body, settings: { ...body.settings, baseUrl } };
};

let stack: TestStack;
let erp: SoapErpEmulator;
beforeAll(async () => {
  erp = new SoapErpEmulator({ sessionTtlSeconds: 3, seed: 21 });
  await erp.start();
  seedLedgerline(erp, ITEMS);
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
  await erp?.stop();
});

/** Syncs each entity in turn and checks every item came over exactly once. */
async function syncAll(auth: { Authorization: string }, id: string, during?: (entity: string, runId: string) => Promise<void>) {
  for (const entity of ['products', 'prices', 'inventory']) {
    const runId = await startSync(stack, auth, id, entity, 'full');
    await during?.(entity, runId);
    const run = await waitForRun(stack, auth, id, runId, 150_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts, entity).toEqual({ read: ITEMS, valid: ITEMS, invalid: 0, upserted: ITEMS, unchanged: 0 });
    expect(run.checkpoint.pages, entity).toBe(Math.ceil(ITEMS / 40));
  }
}

async function expectCatalog(auth: { Authorization: string }) {
  const items = erp.ordered();
  const products = await readCatalog(stack, auth, 'products');
  expect(products.map((p) => p.sku)).toEqual(items.map((i) => i.code));
  expect(products.find((p) => p.sku === 'LL-00018')).toMatchObject({ name: 'Bolt & nut <M18> "zinc"', active: false });
  const prices = await readCatalog(stack, auth, 'prices');
  expect(prices).toHaveLength(ITEMS);
  expect(prices.find((p) => p.sku === 'LL-00004')).toMatchObject({ priceList: 'standard', amountMinor: 1100, currency: 'USD' });
  expect(prices.find((p) => p.sku === 'LL-00005')).toMatchObject({ amountMinor: 1125, currency: 'EUR' });
  const inventory = await readCatalog(stack, auth, 'inventory');
  expect(inventory).toHaveLength(ITEMS);
  expect(inventory.find((p) => p.sku === 'LL-00042')).toMatchObject({ warehouse: 'north', quantity: 42 });
}

describe('Ledgerline (SOAP, offset paging, XML) by its definition file, with its integration key', () => {
  it('syncs every item exactly once through 429s (with and without Retry-After) and bursts of 500s', async () => {
    const t = await stack.createTenant('Ledgerline tenant');
    const id = await createIntegration(stack, t.auth, definitionFile('integration.yaml', erp.url));
    // The connection test reads the first SOAP page and lists the fields mappings can name.
    const check = await request(stack.app).post(`/v1/integrations/${id}/test-connection`).set(t.auth).expect(200);
    expect(check.body).toMatchObject({ ok: true, entity: 'products', records: 40 });
    expect(check.body.fields).toEqual(['ItemCode', 'Description', 'UnitPrice', 'Warehouse', 'QtyOnHand', 'Active', 'Modified']);
    erp.faults.set({ rate429: 0.15, withoutRetryAfter: 0.5, retryAfterSeconds: 1, burst500Every: 7, burst500Length: 2 }, 3);
    const before = erp.calls.length;
    await syncAll(t.auth, id);
    await expectCatalog(t.auth);
    const calls = erp.calls.slice(before);
    expect(calls.filter((c) => c.status === 429 && c.retryAfter === '1').length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.status === 429 && c.retryAfter === undefined).length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.status === 500).length).toBeGreaterThan(0);
    // Every page answered once per entity: 6 pages × 3 entities, offsets 0, 40, … 200.
    expect(calls.filter((c) => c.status === 200).map((c) => c.offset)).toEqual([0, 1, 2].flatMap(() => [0, 40, 80, 120, 160, 200]));
  }, 400_000);
});

describe('a hostile SOAP definition', () => {
  it('is a 400 naming the template, never stored', async () => {
    const t = await stack.createTenant('Ledgerline hostile tenant');
    const body = definitionFile('integration.yaml', erp.url);
    for (const [template, message] of [
      ['<a>{{credentials.integrationKey}}</a><b/>', /not well-formed XML .*: a second root element/],
      ['<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', /not well-formed XML .*: a document type declaration/],
      ['<a>{{process.env.DATABASE_URL}}</a>', /unknown variable 'process.env.DATABASE_URL'/],
    ] as const) {
      const products = { ...body.connector.streams.products, body: { encoding: 'xml', template } };
      const res = await request(stack.app)
        .post('/v1/integrations')
        .set(t.auth)
        .send({ ...body, connector: { ...body.connector, streams: { products } } });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'body.connector.streams.products.body.template', message: expect.stringMatching(message) })]);
    }
    const list = await request(stack.app).get('/v1/integrations').set(t.auth).expect(200);
    expect(list.body.data).toEqual([]);
  });
});

describe('Ledgerline by its definition file, logging in for sessions (session_token auth)', () => {
  it('logs in, logs in again when a session expires mid-run, and syncs every item exactly once through the faults', async () => {
    const t = await stack.createTenant('Ledgerline session tenant');
    const id = await createIntegration(stack, t.auth, definitionFile('integration-session.yaml', erp.url));
    erp.faults.set({ rate429: 0.1, withoutRetryAfter: 0.5, retryAfterSeconds: 1, burst500Every: 9, burst500Length: 2 }, 4);
    const before = erp.calls.length;
    const loginsBefore = erp.logins;
    await syncAll(t.auth, id, async (entity, runId) => {
      if (entity !== 'prices') return;
      // Two pages in, the ERP ends every session: the next call gets 401 Session expired.
      const deadline = Date.now() + 60_000;
      while ((await getRun(stack, t.auth, id, runId)).checkpoint.pages < 2) {
        if (Date.now() > deadline) throw new Error('no progress');
        await new Promise((r) => setTimeout(r, 50));
      }
      erp.expireSessions();
    });
    await expectCatalog(t.auth);
    const calls = erp.calls.slice(before);
    expect(calls.filter((c) => c.auth === 'key')).toEqual([]);
    expect(calls.filter((c) => c.status === 401).length).toBeGreaterThan(0);
    expect(erp.logins - loginsBefore).toBeGreaterThan(1);
  }, 400_000);
});
