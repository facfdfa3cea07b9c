/**
 * The page, offset and Link header paginators of the REST ERP connector, against the emulated ERP
 * over real HTTP (through the egress guard): every record comes over exactly once, in order, and
 * paging stops at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErpEmulator, seedCatalog } from '../../emulators/erp/emulator.js';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';

let erp: ErpEmulator;
let egress: EgressFetch;
beforeAll(async () => {
  erp = new ErpEmulator({ seed: 1 });
  await erp.start();
  egress = createEgressFetch({ allowPrivateNetworks: true });
  seedCatalog(erp, 23);
});
afterAll(async () => {
  await egress?.close();
  await erp?.stop();
});

/** A REST source over the emulated ERP whose products stream pages with `pagination`. */
function productsSource(pagination: Record<string, unknown>, query: Record<string, string> = {}) {
  const base = defterIntegration(erp.url);
  const connector = restConnectorSchema.parse({
    ...base.connector,
    streams: { products: { path: '/api/v1/urunler', query, recordPath: 'kayitlar', pagination } },
  });
  return createRestSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: base.credentials,
    settings: base.settings,
    fetch: egress,
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
  });
}

/** Pages of products read with `pagination`, and the requests the ERP served for them. */
async function readAll(pagination: Record<string, unknown>, query: Record<string, string> = {}) {
  const source = productsSource(pagination, query);
  const before = erp.requests.length;
  const pages: string[][] = [];
  const positions: (string | null)[] = [];
  for await (const page of source.pages('products', null)) {
    pages.push(page.records.map((r) => String((r as Record<string, unknown>).StokKodu)));
    positions.push(page.next);
  }
  return { pages, positions, served: erp.requests.slice(before) };
}

const allKeys = () => erp.ordered('urunler').map((r) => r.key);

describe('REST ERP paginators', () => {
  it('page numbers: sends page 1, 2, 3 with the page size and stops on a short page', async () => {
    const { pages, positions, served } = await readAll({ type: 'page', param: 'sayfa', size: 10, sizeParam: 'adet' });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(allKeys());
    expect(positions).toEqual(['2', '3', null]);
    expect(served.map((r) => r.records)).toEqual([10, 10, 3]);
  });

  it('page numbers with an exact multiple of the page size: one empty page ends the stream', async () => {
    const { pages } = await readAll({ type: 'page', param: 'sayfa', size: 23, sizeParam: 'adet' });
    expect(pages.map((p) => p.length)).toEqual([23, 0]);
    expect(pages.flat()).toEqual(allKeys());
  });

  it('offsets: advances by the records received and stops on a short page', async () => {
    const { pages, positions } = await readAll({ type: 'offset', param: 'atla', size: 10, sizeParam: 'adet' });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(allKeys());
    expect(positions).toEqual(['10', '20', null]);
  });

  it('Link header: follows rel="next" (not the other relations) until there is none', async () => {
    const { pages, positions } = await readAll({ type: 'link' }, { adet: '10' });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(allKeys());
    expect(positions[0]).toMatch(new RegExp(`^${erp.url}/api/v1/urunler\\?.*imlec=`));
    expect(positions.at(-1)).toBeNull();
  });

  it('Link header: a relative position stored by an older checkpoint resumes on the base URL', async () => {
    const { positions } = await readAll({ type: 'link' }, { adet: '10' });
    const relative = positions[0]!.slice(erp.url.length);
    expect(relative).toMatch(/^\/api\/v1\/urunler\?/);
    const pages: string[][] = [];
    for await (const page of productsSource({ type: 'link' }).pages('products', relative)) {
      pages.push(page.records.map((r) => String((r as Record<string, unknown>).StokKodu)));
    }
    expect(pages.flat()).toEqual(allKeys().slice(10));
  });

  it('a Link header that leaves the ERP origin is refused', async () => {
    const source = productsSource({ type: 'link' });
    await expect(source.pages('products', 'http://elsewhere.example/api/v1/urunler')[Symbol.asyncIterator]().next()).rejects.toThrow(/away from the base URL/);
  });
});
