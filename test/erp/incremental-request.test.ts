/**
 * The "changed since" request parameter of REST ERP streams, written apart from how records write
 * their change time, with a lookback; the older `param` sends exactly what it sent before. Requests
 * go to the emulated ERP over real HTTP (through the egress guard); the URLs sent are compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERP_TIME_FORMAT, ERP_ZONE, ErpEmulator, seedCatalog } from '../../emulators/erp/emulator.js';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { csvConnectorSchema, restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { incrementalRequest, sinceParamValue, type IncrementalRequest } from '../../src/providers/erp/incremental.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';

let erp: ErpEmulator;
let egress: EgressFetch;
beforeAll(async () => {
  erp = new ErpEmulator({ seed: 1 });
  await erp.start();
  egress = createEgressFetch({ allowPrivateNetworks: true });
  seedCatalog(erp, 12, Date.UTC(2026, 0, 13, 7));
});
afterAll(async () => {
  await egress?.close();
  await erp?.stop();
});

/** The URLs a products stream with `incremental` sends for an incremental read from `since`. */
async function urlsSent(incremental: Record<string, unknown>, since = { watermark: '2026-01-13T07:00:05Z', key: 'STK-00005' }) {
  const base = defterIntegration(erp.url);
  const connector = restConnectorSchema.parse({
    ...base.connector,
    streams: { products: { path: '/api/v1/urunler', query: { adet: '5' }, recordPath: 'kayitlar', pagination: { type: 'cursor', cursorPath: 'sonrakiImlec', param: 'imlec' }, incremental } },
  });
  const urls: string[] = [];
  const source = createRestSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: base.credentials,
    settings: base.settings,
    fetch: (url, init) => {
      if (!String(url).endsWith('/oauth/token')) urls.push(String(url));
      return egress(url, init);
    },
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
  });
  for await (const page of source.pages('products', null, since)) void page;
  return urls;
}

const reading = { cursorField: 'GuncellemeTarihi', format: ERP_TIME_FORMAT, zone: ERP_ZONE, keyField: 'StokKodu' };

describe('the older param', () => {
  it.each([
    ['in the records’ format and zone', reading, { param: 'guncellemeSonrasi', format: ERP_TIME_FORMAT, zone: ERP_ZONE }],
    ['as ISO 8601 in the records’ zone (no format)', { cursorField: 'updated', zone: ERP_ZONE, keyField: 'StokKodu' }, { param: 'guncellemeSonrasiUtc', zone: ERP_ZONE }],
  ])('%s sends the same requests as its request form', async (_name, read, request) => {
    const { param, ...written } = request;
    const old = await urlsSent({ ...read, param });
    const normalised = await urlsSent({ ...read, request: { param, ...written } });
    expect(old.length).toBeGreaterThan(0);
    expect(normalised).toEqual(old);
    expect(incrementalRequest(restConnectorSchema.parse({ type: 'rest', baseUrl: 'https://x', streams: { products: { path: '/p', incremental: { ...read, param } } } }).streams.products!.incremental!)).toEqual({
      param,
      ...written,
    });
  });

  it('writes the records’ notation, which an ERP filtering in ISO 8601 refuses; request writes ISO 8601 in UTC', async () => {
    const old = await urlsSent({ ...reading, param: 'guncellemeSonrasiUtc' }).catch((err: Error) => err);
    expect(old).toBeInstanceOf(Error);
    expect((old as Error).message).toMatch(/HTTP 400/);
    const before = erp.requests.length;
    const urls = await urlsSent({ ...reading, request: { param: 'guncellemeSonrasiUtc' } });
    // The watermark 07:00:05Z (10:00:05 in Istanbul on the 13th) goes out as it is, in UTC, and the
    // ERP answers the 7 records changed after it (07:00:06 to 07:00:12), in two pages.
    expect(new URL(urls[0]!).searchParams.get('guncellemeSonrasiUtc')).toBe('2026-01-13T07:00:05.000Z');
    expect(erp.requests.slice(before).map((r) => [r.status, r.records, r.sinceUtc])).toEqual([
      [200, 5, '2026-01-13T07:00:05.000Z'],
      [200, 2, '2026-01-13T07:00:05.000Z'],
    ]);
  });

  it('with lookbackSeconds asks from the watermark minus the lookback', async () => {
    const urls = await urlsSent({ ...reading, request: { param: 'guncellemeSonrasiUtc' }, lookbackSeconds: 3 });
    expect(new URL(urls[0]!).searchParams.get('guncellemeSonrasiUtc')).toBe('2026-01-13T07:00:02.000Z');
  });
});

describe('sinceParamValue', () => {
  const at = '2026-01-13T07:00:05Z';
  it.each<[string, IncrementalRequest, number, string]>([
    ['ISO 8601 in UTC by default', { param: 'p', zone: 'UTC' }, 0, '2026-01-13T07:00:05.000Z'],
    ['a Luxon format in a zone', { param: 'p', format: ERP_TIME_FORMAT, zone: ERP_ZONE }, 0, '13.01.2026 10:00:05'],
    ['ISO 8601 in a zone', { param: 'p', zone: ERP_ZONE }, 0, '2026-01-13T10:00:05.000+03:00'],
    ['unix seconds', { param: 'p', format: 'unix', zone: ERP_ZONE }, 0, '1768287605'],
    ['unix milliseconds, 65 s back', { param: 'p', format: 'unix_ms', zone: 'UTC' }, 65, '1768287540000'],
    ['a lookback across midnight', { param: 'p', format: 'yyyy-MM-dd HH:mm:ss', zone: 'UTC' }, 7 * 3600 + 6, '2026-01-12 23:59:59'],
  ])('%s', (_name, req, lookback, expected) => {
    expect(sinceParamValue(req, at, lookback)).toBe(expected);
  });
});

describe('incremental and alsoFeeds definitions', () => {
  const rest = (streams: Record<string, unknown>) => restConnectorSchema.safeParse({ type: 'rest', baseUrl: 'https://erp.example', streams });
  const issues = (result: ReturnType<typeof rest>) => result.error?.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));

  it.each([
    ['param and request together', { products: { path: '/p', incremental: { ...reading, param: 'a', request: { param: 'b' } } } }, 'products.incremental.param', /not both/],
    ['a request zone that is not a zone', { products: { path: '/p', incremental: { ...reading, request: { param: 'b', zone: 'Mars/Olympus' } } } }, 'products.incremental.request.zone', /IANA/],
    ['a negative lookback', { products: { path: '/p', incremental: { ...reading, lookbackSeconds: -1 } } }, 'products.incremental.lookbackSeconds', /./],
    ['a lookback over a week', { products: { path: '/p', incremental: { ...reading, lookbackSeconds: 604_801 } } }, 'products.incremental.lookbackSeconds', /./],
    ['a stream feeding its own entity', { products: { path: '/p', alsoFeeds: ['products'] } }, 'products.alsoFeeds.0', /feeds products already/],
    ['a fed entity with a stream of its own', { products: { path: '/p', alsoFeeds: ['prices'] }, prices: { path: '/f' } }, 'products.alsoFeeds.0', /prices has a stream of its own/],
    ['an entity fed by two streams', { products: { path: '/p', alsoFeeds: ['inventory'] }, prices: { path: '/f', alsoFeeds: ['inventory'] } }, 'prices.alsoFeeds.0', /fed by the products stream already/],
    ['an entity listed twice', { products: { path: '/p', alsoFeeds: ['prices', 'prices'] } }, 'products.alsoFeeds', /listed twice/],
    ['an unknown entity', { products: { path: '/p', alsoFeeds: ['customers'] } }, 'products.alsoFeeds.0', /./],
  ])('refuses %s, naming the field', (_name, streams, path, message) => {
    const result = rest(streams);
    expect(result.success).toBe(false);
    expect(issues(result)).toContainEqual({ path: `streams.${path}`, message: expect.stringMatching(message) });
  });

  it('a CSV stream has no request part', () => {
    const result = csvConnectorSchema.safeParse({ type: 'csv', streams: { products: { upload: true, incremental: { ...reading, request: { param: 'p' } } } } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.')).toBe('streams.products.incremental');
  });

  it('accepts the cookbook stream: ISO 8601 requests in UTC, records in Istanbul notation, a lookback, one read for three entities', () => {
    const result = rest({
      products: { path: '/api/v1/malzemeler', incremental: { ...reading, request: { param: 'guncellemeSonrasiUtc' }, lookbackSeconds: 60 }, alsoFeeds: ['prices', 'inventory'] },
    });
    expect(issues(result)).toBeUndefined();
    expect(result.data?.streams.products?.incremental).toMatchObject({ request: { param: 'guncellemeSonrasiUtc', zone: 'UTC' }, lookbackSeconds: 60 });
  });
});
