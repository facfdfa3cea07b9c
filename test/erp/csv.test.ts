import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCatalog } from '../../emulators/erp/emulator.js';
import { detectEncoding, parseCsv } from '../../src/providers/erp/csv-source.js';
import { createIntegration, readCatalog, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

/** Bytes delivered in small chunks, so multi-byte characters and records straddle chunk borders. */
function chunked(bytes: Buffer, size = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function rows(bytes: Buffer, opts: Parameters<typeof parseCsv>[1] = { quote: '"', header: true }) {
  const out: Record<string, unknown>[] = [];
  for await (const r of parseCsv(chunked(bytes), opts)) out.push(r);
  return out;
}

const TURKISH = 'StokKodu;ÜrünAdı;Fiyat\r\nA-1;"Çiğ köfte; acılı";1.299,90\r\nA-2;"İnce ""belli""\r\nçay bardağı";12,50\r\n';
const expected = [
  { StokKodu: 'A-1', ÜrünAdı: 'Çiğ köfte; acılı', Fiyat: '1.299,90' },
  { StokKodu: 'A-2', ÜrünAdı: 'İnce "belli"\r\nçay bardağı', Fiyat: '12,50' },
];

describe('CSV dialects', () => {
  it.each([
    ['UTF-8', Buffer.from(TURKISH, 'utf8')],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TURKISH, 'utf8')])],
    ['Windows-1254', iconv.encode(TURKISH, 'win1254')],
    ['ISO-8859-9', iconv.encode(TURKISH, 'iso-8859-9')],
  ])('%s with semicolons, quoted delimiters, escaped quotes, quoted CRLF newlines is detected and parsed', async (_name, bytes) => {
    expect(await rows(bytes)).toEqual(expected);
  });

  it('tells the encodings apart', () => {
    expect(detectEncoding(Buffer.from(TURKISH, 'utf8'))).toBe('utf-8');
    // 0x80 (€) only exists in Windows-1254, not in ISO-8859-9.
    expect(detectEncoding(iconv.encode(`${TURKISH}Fiyat;€ 12\r\n`, 'win1254'))).toBe('windows-1254');
    expect(detectEncoding(iconv.encode(TURKISH, 'iso-8859-9'))).toBe('iso-8859-9');
    expect(detectEncoding(iconv.encode('name,city\nJosé,Málaga\nFrançois,Besançon\n', 'win1252'))).toBe('windows-1252');
  });

  it('reads Windows-1252 with commas and LF, and honours overrides (delimiter, encoding, no header)', async () => {
    const latin = iconv.encode('sku,name\nX1,"Crème brûlée, large"\nX2,Façade\n', 'win1252');
    expect(await rows(latin)).toEqual([
      { sku: 'X1', name: 'Crème brûlée, large' },
      { sku: 'X2', name: 'Façade' },
    ]);
    const tabbed = iconv.encode('K1\tŞeker\nK2\tİğne\n', 'iso-8859-9');
    expect(await rows(tabbed, { delimiter: '\t', encoding: 'iso-8859-9', header: false, quote: '"' })).toEqual([
      { 1: 'K1', 2: 'Şeker' },
      { 1: 'K2', 2: 'İğne' },
    ]);
  });
});

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 30 });
});
afterAll(async () => {
  await f?.close();
});

describe('CSV connector', () => {
  it("syncs the ERP's Windows-1254 semicolon export page by page into the catalog", async () => {
    const { stack, erp } = f;
    seedCatalog(erp, 45);
    const t = await stack.createTenant('CSV tenant');
    const id = await createIntegration(stack, t.auth, {
      name: 'Defter CSV',
      type: 'polling',
      connector: {
        type: 'csv',
        baseUrl: '{{settings.baseUrl}}',
        auth: { type: 'oauth2_password', tokenUrl: '/oauth/token', username: '{{credentials.username}}', password: '{{credentials.password}}' },
        streams: { products: { url: '/api/v1/urunler.csv', pageSize: 10 } },
      },
      credentials: { username: 'entegrasyon', password: 'gizli' },
      settings: { baseUrl: erp.url, intervalSeconds: 3600 },
      mappings: {
        products: [
          { sourceField: 'StokKodu', targetField: 'sku' },
          { sourceField: 'UrunAdi', targetField: 'name' },
          { sourceField: 'Aciklama', targetField: 'description' },
          { sourceField: 'Aktif', targetField: 'active', transformation: { type: 'boolean' } },
        ],
      },
    });
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toEqual({ read: 45, valid: 45, invalid: 0, upserted: 45, unchanged: 0 });
    expect(run.checkpoint.pages).toBe(5);
    const products = await readCatalog(stack, t.auth, 'products');
    expect(products).toHaveLength(45);
    expect(products.find((p) => p.sku === 'STK-00014')).toMatchObject({ name: 'Ürün 14 — çay bardağı', description: 'İnce belli; "özel"\nseri', active: true });
    expect(products.find((p) => p.sku === 'STK-00010')).toMatchObject({ active: false });
  }, 120_000);
});
