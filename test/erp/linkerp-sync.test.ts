/**
 * Parcelo, the emulated ERP with Link-header paging and gzip CSV exports, connected end to end by its
 * definition files alone (emulators/linkerp/integration*.yaml posted to POST /v1/integrations with
 * only settings.baseUrl filled in): every record synced exactly once through 429s with and without
 * Retry-After and bursts of 500s, from the JSON API and from both kinds of gzip export.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { LinkErpEmulator, seedParcelo } from '../../emulators/linkerp/emulator.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { createIntegration, readCatalog, startSync, waitForRun } from './erp-fixture.js';

const PRODUCTS = 260;
const definitionFile = (name: string, baseUrl: string) => {
  const body = parseYaml(readFileSync(`emulators/linkerp/${name}`, 'utf8')) as { settings: Record<string, unknown> };
  return { ...body, settings: { ...body.settings, baseUrl } };
};

let stack: TestStack;
let erp: LinkErpEmulator;
beforeAll(async () => {
  erp = new LinkErpEmulator({ seed: 17 });
  await erp.start();
  seedParcelo(erp, PRODUCTS);
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
  await erp?.stop();
});

async function syncExactly(auth: { Authorization: string }, id: string, entity: string, pages: number) {
  const run = await waitForRun(stack, auth, id, await startSync(stack, auth, id, entity, 'full'), 150_000);
  expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
  expect(run.counts, entity).toEqual({ read: PRODUCTS, valid: PRODUCTS, invalid: 0, upserted: PRODUCTS, unchanged: 0 });
  expect(run.checkpoint.pages, entity).toBe(pages);
}

function expectFaultsServed(calls: LinkErpEmulator['calls']) {
  expect(calls.filter((c) => c.status === 429).length).toBeGreaterThan(0);
  expect(calls.filter((c) => c.status === 500).length).toBeGreaterThan(0);
}

describe('Parcelo by its definition files', () => {
  it('API: follows the Link headers and syncs every product and price exactly once through 429s and 500 bursts', async () => {
    const t = await stack.createTenant('Parcelo API tenant');
    const id = await createIntegration(stack, t.auth, definitionFile('integration.yaml', erp.url));
    erp.faults.set({ rate429: 0.15, withoutRetryAfter: 0.5, retryAfterSeconds: 1, burst500Every: 6, burst500Length: 2 }, 5);
    const before = erp.calls.length;
    await syncExactly(t.auth, id, 'products', Math.ceil(PRODUCTS / 25));
    await syncExactly(t.auth, id, 'prices', Math.ceil(PRODUCTS / 25));
    const calls = erp.calls.slice(before);
    expectFaultsServed(calls);
    // Each page served once per entity: page 1 from the definition's path, the others from rel="next".
    const served = calls.filter((c) => c.status === 200).map((c) => c.path);
    const expected = ['/v2/products?per_page=25', ...Array.from({ length: Math.ceil(PRODUCTS / 25) - 1 }, (_, i) => `/v2/products?page=${i + 2}&per_page=25`)];
    expect(served).toEqual([...expected, ...expected]);

    const products = await readCatalog(stack, t.auth, 'products');
    expect(products.map((p) => p.sku)).toEqual(erp.ordered().map((p) => p.sku));
    expect(products.find((p) => p.sku === 'PCL-00088')).toMatchObject({ name: 'Box, "large" 88', active: false });
    const prices = await readCatalog(stack, t.auth, 'prices');
    expect(prices.find((p) => p.sku === 'PCL-00088')).toMatchObject({ priceList: 'list', amountMinor: 1380, currency: 'USD' });
  }, 400_000);

  it('exports: reads the .gz stock file and the Content-Encoding: gzip products file, every row exactly once through the faults', async () => {
    const t = await stack.createTenant('Parcelo exports tenant');
    const id = await createIntegration(stack, t.auth, definitionFile('integration-exports.yaml', erp.url));
    erp.faults.set({ rate429: 0.3, withoutRetryAfter: 0.5, retryAfterSeconds: 1, burst500Every: 3, burst500Length: 1 }, 8);
    const before = erp.calls.length;
    await syncExactly(t.auth, id, 'inventory', Math.ceil(PRODUCTS / 100));
    await syncExactly(t.auth, id, 'products', Math.ceil(PRODUCTS / 100));
    expectFaultsServed(erp.calls.slice(before));

    const inventory = await readCatalog(stack, t.auth, 'inventory');
    expect(inventory.map((r) => r.sku)).toEqual(erp.ordered().map((p) => p.sku));
    expect(inventory.find((r) => r.sku === 'PCL-00003')).toMatchObject({ warehouse: 'DE-BER', quantity: 21 });
    const products = await readCatalog(stack, t.auth, 'products');
    expect(products).toHaveLength(PRODUCTS);
    expect(products.find((p) => p.sku === 'PCL-00011')).toMatchObject({ name: 'Box, "large" 11', active: true });
  }, 400_000);
});
