/**
 * Parcelo, the emulated ERP with Link-header pagination and gzip CSV exports, over real HTTP: its
 * pages and links, its two kinds of gzip export, and its faults (429 with and without Retry-After,
 * bursts of 500), as its API reference (emulators/linkerp/emulator.ts) describes them.
 */
import { request } from 'undici';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LinkErpEmulator, seedParcelo } from '../../emulators/linkerp/emulator.js';

let erp: LinkErpEmulator;
beforeAll(async () => {
  erp = new LinkErpEmulator();
  await erp.start();
  seedParcelo(erp, 23);
});
afterAll(async () => {
  await erp?.stop();
});
beforeEach(() => {
  erp.faults.set({ rate429: 0, burst500Every: 0, burst500Length: 0 });
});

/** A GET with undici's plain request (no automatic decoding), so the bytes on the wire are seen. */
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${erp.url}${path}`, { headers: { authorization: `Token ${erp.apiToken}`, ...headers } });
  const body = Buffer.from(await res.body.arrayBuffer());
  const header = (name: string) => (res.headers[name] as string | undefined) ?? null;
  return { status: res.statusCode, header, body };
}

describe('Parcelo wire format', () => {
  it('pages products by Link headers with absolute URLs, next only while there is one, and the total', async () => {
    const skus: string[] = [];
    let path: string | null = '/v2/products?per_page=10';
    const links: string[] = [];
    while (path) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.header('x-total-count')).toBe('23');
      links.push(res.header('link')!);
      skus.push(...(JSON.parse(res.body.toString()) as { sku: string }[]).map((p) => p.sku));
      const next = /<([^>]+)>; rel="next"/.exec(res.header('link')!)?.[1];
      path = next ? next.slice(erp.url.length) : null;
    }
    expect(skus).toEqual(erp.ordered().map((p) => p.sku));
    expect(links[0]).toBe(
      `<${erp.url}/v2/products?page=2&per_page=10>; rel="next", <${erp.url}/v2/products?page=3&per_page=10>; rel="last", <${erp.url}/v2/products?page=1&per_page=10>; rel="first"`,
    );
    expect(links.at(-1)).not.toContain('rel="next"');
    const [first] = JSON.parse((await get('/v2/products?per_page=1')).body.toString()) as unknown[];
    expect(first).toEqual({
      sku: 'PCL-00001',
      title: 'Parcel box 1',
      status: 'active',
      price: { amount: '5.10', currency: 'USD' },
      stock: { location: 'US-NYC', on_hand: 7 },
      updated_at: '2026-09-01T00:00:01.000Z',
    });
  });

  it('refuses a bad token and a bad page size', async () => {
    expect((await get('/v2/products', { authorization: 'Token nope' })).status).toBe(401);
    expect((await get('/v2/products?per_page=500')).status).toBe(422);
  });

  it('serves the stock export as a gzip file and the products export with Content-Encoding: gzip when asked', async () => {
    const stock = await get('/v2/exports/stock.csv.gz');
    expect(stock.header('content-type')).toBe('application/gzip');
    expect([...stock.body.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    const text = gunzipSync(stock.body).toString();
    expect(text.split('\n')[0]).toBe('sku,location,on_hand,updated_at');
    expect(text.trim().split('\n')).toHaveLength(24);

    const encoded = await get('/v2/exports/products.csv', { 'accept-encoding': 'gzip' });
    expect(encoded.header('content-encoding')).toBe('gzip');
    const plain = await get('/v2/exports/products.csv');
    expect(plain.header('content-encoding')).toBeNull();
    expect(gunzipSync(encoded.body).toString()).toBe(plain.body.toString());
    expect(plain.body.toString()).toContain('PCL-00011,"Box, ""large"" 11",active,6.10,USD');
  });

  it('throttles with 429, with and without Retry-After, and fails in bursts of 500, exports included', async () => {
    erp.faults.set({ rate429: 0.5, withoutRetryAfter: 0.5, retryAfterSeconds: 3 }, 9);
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await get(i % 2 ? '/v2/products' : '/v2/exports/stock.csv.gz'));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(5);
    expect(new Set(limited.map((a) => a.header('retry-after')))).toEqual(new Set(['3', null]));
    expect(JSON.parse(limited[0]!.body.toString())).toEqual({ message: 'API rate limit exceeded' });

    erp.faults.set({ rate429: 0, burst500Every: 5, burst500Length: 2 });
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await get('/v2/products')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 500, 500, 200, 200]);
  });
});
