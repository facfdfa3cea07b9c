/**
 * gzip CSV: Parcelo's exports over real HTTP through the egress guard (a `.gz` file detected by its
 * first bytes, and a CSV sent with Content-Encoding: gzip), gzip uploads, resuming (a gzip stream
 * cannot be entered at a byte offset: the rows committed are re-read and skipped by count), and the
 * inflated-size cap that stops a zip bomb.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { LinkErpEmulator, seedParcelo } from '../../emulators/linkerp/emulator.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { csvConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createCsvSource } from '../../src/providers/erp/csv-source.js';
import { DEFAULT_ERP_SOURCE_LIMITS, ErpConfigurationError, ErpUnavailableError, type ErpSource } from '../../src/providers/erp/source.js';

const definition = parseYaml(readFileSync('emulators/linkerp/integration-exports.yaml', 'utf8')) as {
  connector: Record<string, unknown> & { streams: Record<string, Record<string, unknown>> };
  credentials: Record<string, string>;
};

let erp: LinkErpEmulator;
let egress: EgressFetch;
beforeAll(async () => {
  erp = new LinkErpEmulator();
  await erp.start();
  egress = createEgressFetch({ allowPrivateNetworks: true });
  seedParcelo(erp, 250);
});
afterAll(async () => {
  await egress?.close();
  await erp?.stop();
});
beforeEach(() => {
  erp.stockExportOverride = undefined;
});

/** Reads that one upload, in 5-byte chunks, recording where each read started. */
function uploadOf(file: Buffer) {
  const reads: number[] = [];
  return {
    reads,
    latest: () => Promise.resolve('upl_1'),
    async *read(_id: string, fromByte = 0) {
      reads.push(fromByte);
      for (let i = fromByte; i < file.length; i += 5) yield file.subarray(i, Math.min(i + 5, file.length));
    },
  };
}

function source(
  streams: Record<string, Record<string, unknown>>,
  opts: { uploads?: ReturnType<typeof uploadOf>; maxDecompressedBytes?: number; fetch?: EgressFetch } = {},
): ErpSource {
  const connector = csvConnectorSchema.parse({ ...definition.connector, streams });
  return createCsvSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: definition.credentials,
    settings: { baseUrl: erp.url },
    fetch: opts.fetch ?? egress,
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
    ...(opts.uploads ? { uploads: opts.uploads } : {}),
    limits: { ...DEFAULT_ERP_SOURCE_LIMITS, maxDecompressedBytes: opts.maxDecompressedBytes ?? DEFAULT_ERP_SOURCE_LIMITS.maxDecompressedBytes },
  });
}

async function pages(src: ErpSource, entity: 'inventory' | 'products', position: string | null = null) {
  const out: { records: Record<string, unknown>[]; next: string | null }[] = [];
  for await (const page of src.pages(entity, position)) out.push(page as (typeof out)[number]);
  return out;
}

const skus = (ps: { records: Record<string, unknown>[] }[]) => ps.flatMap((p) => p.records.map((r) => r.sku));
const allSkus = () => erp.ordered().map((p) => p.sku);

describe('gzip CSV exports over HTTP', () => {
  it('inflates a .gz export (application/gzip, detected by its first bytes) and reads every row once', async () => {
    const read = await pages(source(definition.connector.streams), 'inventory');
    expect(read.map((p) => p.records.length)).toEqual([100, 100, 50]);
    expect(skus(read)).toEqual(allSkus());
    expect(read[0]!.records[2]).toEqual({ sku: 'PCL-00003', location: 'DE-BER', on_hand: '21', updated_at: '2026-09-01T00:00:03.000Z' });
    expect(read.map((p) => p.next)).toEqual(['100', '200', null]);
  });

  it('reads a CSV sent with Content-Encoding: gzip (inflated by the HTTP client)', async () => {
    const read = await pages(source(definition.connector.streams), 'products');
    expect(skus(read)).toEqual(allSkus());
    expect(read[0]!.records[10]).toMatchObject({ sku: 'PCL-00011', title: 'Box, "large" 11' });
    expect(erp.calls.at(-1)).toMatchObject({ path: '/v2/exports/products.csv', status: 200 });
  });

  it('counts a Content-Encoding: gzip answer inflated against the egress cap, a .gz file as sent', async () => {
    const plain = await (await fetch(`${erp.url}/v2/exports/products.csv`, { headers: { authorization: `Token ${erp.apiToken}`, 'accept-encoding': 'identity' } })).text();
    const cap = gzipSync(erp.stockCsv()).length + 1024;
    const capped = createEgressFetch({ allowPrivateNetworks: true, maxResponseBytes: cap });
    try {
      // The products export is under the cap as sent (gzip) and over it inflated.
      expect(gzipSync(plain).length).toBeLessThan(cap);
      expect(Buffer.byteLength(plain)).toBeGreaterThan(cap);
      await expect(pages(source(definition.connector.streams, { fetch: capped }), 'products')).rejects.toThrow(/exceeded the \d+-byte size cap/);
      expect(skus(await pages(source(definition.connector.streams, { fetch: capped }), 'inventory'))).toEqual(allSkus());
    } finally {
      await capped.close();
    }
  });

  it('resumes by reading the file again and skipping the rows committed: each row comes once', async () => {
    for (const position of ['100', '200']) {
      const rest = await pages(source(definition.connector.streams), 'inventory', position);
      expect(skus(rest)).toEqual(allSkus().slice(Number(position)));
      expect(rest.at(-1)!.next).toBeNull();
    }
  });

  it('refuses a zip bomb at the inflated-size cap, with the setting named, and no row past the cap is read', async () => {
    // 64 MiB of rows in about 64 KiB of gzip, against a 4 MiB cap.
    const row = 'PCL-1,US-NYC,1,2026-09-01T00:00:00Z\n';
    erp.stockExportOverride = gzipSync(`sku,location,on_hand,updated_at\n${row.repeat(Math.ceil((64 * 1024 ** 2) / row.length))}`, { level: 9 });
    expect(erp.stockExportOverride.length).toBeLessThan(512 * 1024);
    const streams = { inventory: { ...definition.connector.streams.inventory, pageSize: 20_000 } };
    const seen: number[] = [];
    const run = (async () => {
      for await (const page of source(streams, { maxDecompressedBytes: 4 * 1024 ** 2 }).pages('inventory', null)) seen.push(page.records.length);
    })();
    await expect(run).rejects.toThrow(
      new ErpConfigurationError(
        'the gzip file inflates past the 4194304-byte cap (ERP_MAX_DECOMPRESSED_BYTES); the run stops there (pages committed before it stay)',
      ),
    );
    // What was read before the cap came as pages; not one row past 4 MiB.
    expect(seen.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Math.ceil((4 * 1024 ** 2) / row.length));
  });

  it('tells a corrupt gzip file (not retried) from one cut short (retried)', async () => {
    const good = gzipSync(erp.stockCsv());
    erp.stockExportOverride = Buffer.concat([good.subarray(0, 10), Buffer.alloc(200, 0x41)]);
    await expect(pages(source(definition.connector.streams), 'inventory')).rejects.toThrow(/^the file is not valid gzip: /);
    erp.stockExportOverride = good.subarray(0, Math.floor(good.length / 2));
    await expect(pages(source(definition.connector.streams), 'inventory')).rejects.toBeInstanceOf(ErpUnavailableError);
  });
});

describe('gzip CSV uploads', () => {
  it('follow compression: gzip when it is set: a plain file is then refused as not gzip', async () => {
    const plain = uploadOf(Buffer.from('sku,location,on_hand\nA-1,X,1\n'));
    await expect(pages(source({ inventory: { upload: true, compression: 'gzip' } }, { uploads: plain }), 'inventory')).rejects.toThrow(
      /^the file is not valid gzip: incorrect header check$/,
    );
  });

  const file = gzipSync('sku,location,on_hand\nA-1,X,1\nA-2,X,2\nA-3,X,3\nA-4,X,4\nA-5,X,5\n');

  it('are inflated; their positions keep byte 0, and a resume reads from the start and skips the rows committed', async () => {
    const uploads = uploadOf(file);
    const full = await pages(source({ inventory: { upload: true, pageSize: 2 } }, { uploads }), 'inventory');
    expect(skus(full)).toEqual(['A-1', 'A-2', 'A-3', 'A-4', 'A-5']);
    expect(full.map((p) => p.next)).toEqual(['upl_1:2:0', 'upl_1:4:0', null]);
    for (const [position, rest] of [
      ['upl_1:2:0', ['A-3', 'A-4', 'A-5']],
      ['upl_1:4:0', ['A-5']],
    ] as const) {
      const again = uploadOf(file);
      const resumed = await pages(source({ inventory: { upload: true, pageSize: 2 } }, { uploads: again }), 'inventory', position);
      expect(skus(resumed)).toEqual(rest);
      expect(again.reads).toEqual([0]);
    }
  });
});
