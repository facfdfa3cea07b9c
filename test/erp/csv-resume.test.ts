import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createCsvSource } from '../../src/providers/erp/csv-source.js';
import { csvConnectorSchema } from '../../src/providers/erp/connector-definition.js';

/** An upload store over one file, in small chunks, that records where each read started. */
function uploadOf(file: Buffer) {
  const reads: number[] = [];
  return {
    reads,
    uploads: {
      latest: () => Promise.resolve('upl_1'),
      async *read(_id: string, fromByte = 0) {
        reads.push(fromByte);
        for (let i = fromByte; i < file.length; i += 5) yield file.subarray(i, Math.min(i + 5, file.length));
      },
    },
  };
}

function sourceOver(file: Buffer, pageSize: number) {
  const store = uploadOf(file);
  const connector = csvConnectorSchema.parse({ type: 'csv', streams: { products: { upload: true, pageSize } } });
  const source = createCsvSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: {},
    settings: {},
    fetch: () => Promise.reject(new Error('no HTTP here')),
    urlPolicy: { allowPrivateNetworks: false },
    tokenCache: new TokenCache(),
    uploads: store.uploads,
  });
  return { source, reads: store.reads };
}

async function pagesFrom(file: Buffer, position: string | null, pageSize = 2) {
  const { source, reads } = sourceOver(file, pageSize);
  const pages: { records: unknown[]; next: string | null }[] = [];
  for await (const page of source.pages('products', position)) pages.push(page);
  return { pages, reads };
}

const TEXT = [
  'StokKodu;ÜrünAdı;Aktif',
  'A-1;"Çiğ köfte; acılı";E',
  'A-2;"İnce ""belli""\r\nçay bardağı";H',
  '',
  'A-3;Şeker;E',
  'A-4;Poğaça;E',
  'A-5;Ayran;H',
].join('\r\n');

describe('a resumed CSV upload', () => {
  it.each([
    ['Windows-1254', iconv.encode(TEXT, 'win1254')],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${TEXT}\r\n`, 'utf8')])],
  ])('%s: reads on from the byte after the last committed row, with the same records as a full read', async (_name, file) => {
    const full = await pagesFrom(file, null);
    const all = full.pages.flatMap((p) => p.records);
    expect(all.map((r) => (r as { StokKodu: string }).StokKodu)).toEqual(['A-1', 'A-2', 'A-3', 'A-4', 'A-5']);
    expect(all[1]).toEqual({ StokKodu: 'A-2', ÜrünAdı: 'İnce "belli"\r\nçay bardağı', Aktif: 'H' });
    expect(full.reads).toEqual([0]);

    let committed = 0;
    for (const page of full.pages.slice(0, -1)) {
      committed += page.records.length;
      const [uploadId, rows, byte] = page.next!.split(':');
      expect([uploadId, Number(rows)]).toEqual(['upl_1', committed]);
      // The stored offset is where the next row starts in the raw file.
      const nextSku = (all[committed] as { StokKodu: string }).StokKodu;
      expect(file.subarray(Number(byte)).toString('latin1').replace(/^[\r\n]+/, '')).toMatch(new RegExp(`^${nextSku};`));

      const resumed = await pagesFrom(file, page.next);
      // The head of the file is read for the dialect (encoding, delimiter, header), then the body from the offset.
      expect(resumed.reads).toEqual([0, Number(byte)]);
      expect(resumed.pages.flatMap((p) => p.records)).toEqual(all.slice(committed));
      expect(resumed.pages.at(-1)!.next).toBeNull();
    }
  });

  it('refuses a row with another number of fields than the header, read from the start or resumed past the header', async () => {
    const file = iconv.encode(TEXT.replace('A-4;Poğaça;E', 'A-4;Poğaça'), 'win1254');
    await expect(pagesFrom(file, null)).rejects.toThrow(/^CSV line \d+: Invalid Record Length/);
    const byte = file.indexOf('A-4;');
    await expect(pagesFrom(file, `upl_1:3:${byte}`)).rejects.toThrow(/^CSV line 1: the header has 3 columns, this row 2$/);
  });

  it('from a position stored before offsets (upload id and rows only) skips the committed rows', async () => {
    const file = iconv.encode(TEXT, 'win1254');
    const all = (await pagesFrom(file, null)).pages.flatMap((p) => p.records);
    const resumed = await pagesFrom(file, 'upl_1:3');
    expect(resumed.reads).toEqual([0]);
    expect(resumed.pages.flatMap((p) => p.records)).toEqual(all.slice(3));
  });
});
