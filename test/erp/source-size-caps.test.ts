/**
 * Size caps of ERP sources on a worker shared by tenants: a CSV field of 200 MB fails the run at the
 * record cap while the worker's memory stays flat (the export is not even read to its end), a field
 * over the field cap dead-letters its row, and a REST page over the response or record cap fails the
 * run at once with the reason.
 */
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMapping, REFUSED_ROW_KEY } from '../../src/domain/erp/mapping.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createCsvSource } from '../../src/providers/erp/csv-source.js';
import { csvConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { DEFAULT_ERP_SOURCE_LIMITS } from '../../src/providers/erp/source.js';
import { createIntegration, readCatalog, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

const MB = 1024 * 1024;
const HUGE_FIELD_BYTES = 200 * MB;
const { maxRecordBytes, maxFieldBytes, maxPageRecords } = DEFAULT_ERP_SOURCE_LIMITS;

/** A tenant's export server: bodies generated as streams, so the test process never holds them. */
interface Exporter {
  url: string;
  /** Bytes of the huge export the server got to write before the reader stopped. */
  hugeBytesSent: number;
  close(): Promise<void>;
}

async function write(res: ServerResponse, chunk: string | Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  return !res.destroyed;
}

async function startExporter(): Promise<Exporter> {
  const exporter = { hugeBytesSent: 0 } as Exporter;
  const megabyte = Buffer.alloc(MB, 'x');
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/huge.csv') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        await write(res, 'StokKodu;UrunAdi;Aciklama\r\nA-0;Simit;ok\r\nA-1;Börek;"');
        for (let sent = 0; sent < HUGE_FIELD_BYTES; sent += MB) {
          if (!(await write(res, megabyte))) return;
          exporter.hugeBytesSent = sent + MB;
        }
        res.end('"\r\n');
      } else if (req.url === '/wide.csv') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end(`StokKodu;UrunAdi;Aciklama\r\nW-1;Simit;ok\r\nW-2;Börek;${'y'.repeat(300 * 1024)}\r\nW-3;Poğaça;ok\r\n`);
      } else if (req.url?.startsWith('/api/large')) {
        // 6 MB of JSON: over the egress guard's 5 MB response cap.
        res.writeHead(200, { 'content-type': 'application/json' });
        await write(res, '[');
        for (let i = 0; i < 6; i++) if (!(await write(res, `"${'z'.repeat(MB)}",`))) return;
        res.end('"end"]');
      } else if (req.url?.startsWith('/api/many') || req.url?.startsWith('/api/at-cap')) {
        // 40 KB of JSON holding more tiny records than a page may, or exactly as many.
        const count = req.url.startsWith('/api/many') ? maxPageRecords + 1 : maxPageRecords;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`[${Array.from({ length: count }, () => '0').join(',')}]`);
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  exporter.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  exporter.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return exporter;
}

const productMappings = {
  products: [
    { sourceField: 'StokKodu', targetField: 'sku', required: true },
    { sourceField: 'UrunAdi', targetField: 'name', required: true },
    { sourceField: 'Aciklama', targetField: 'description' },
  ],
};

function csvIntegration(baseUrl: string, path: string) {
  return {
    name: 'Export',
    type: 'polling',
    connector: { type: 'csv', baseUrl: '{{settings.baseUrl}}', streams: { products: { url: path, delimiter: ';', encoding: 'utf-8' } } },
    settings: { baseUrl, intervalSeconds: 3600 },
    mappings: productMappings,
  };
}

function restIntegration(baseUrl: string, path: string) {
  return {
    name: 'JSON ERP',
    type: 'polling',
    connector: { type: 'rest', baseUrl: '{{settings.baseUrl}}', streams: { products: { path } } },
    settings: { baseUrl, intervalSeconds: 3600 },
    mappings: productMappings,
  };
}

/** Attempts of each activity task the run's workflow started. */
async function activityAttempts(f: ErpFixture, auth: { Authorization: string }, integrationId: string, runId: string): Promise<number[]> {
  const { workflowId } = (await request(f.stack.app).get(`/v1/integrations/${integrationId}/runs/${runId}`).set(auth).expect(200)).body as { workflowId: string };
  const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
}

describe('CSV page bytes', () => {
  it('commit a page early when its rows reach maxPageBytes of the file, and resume after it', async () => {
    // 40 rows of about 1 KiB; pages of at most 10 rows or 4 KiB.
    const file = Buffer.from(`StokKodu;Aciklama\r\n${Array.from({ length: 40 }, (_, i) => `P-${i};${'d'.repeat(1000)}`).join('\r\n')}\r\n`);
    const connector = csvConnectorSchema.parse({ type: 'csv', streams: { products: { upload: true, pageSize: 10, delimiter: ';' } } });
    const source = createCsvSource(connector, {
      tenantId: 't',
      integrationId: 'i',
      credentials: {},
      settings: {},
      fetch: () => Promise.reject(new Error('no HTTP here')),
      urlPolicy: { allowPrivateNetworks: false },
      tokenCache: new TokenCache(),
      uploads: {
        latest: () => Promise.resolve('upl_1'),
        async *read(_id: string, fromByte = 0) {
          for (let i = fromByte; i < file.length; i += 777) yield file.subarray(i, Math.min(i + 777, file.length));
        },
      },
      limits: { ...DEFAULT_ERP_SOURCE_LIMITS, maxPageBytes: 4096 },
    });
    const sizes: number[] = [];
    let resumeAt: string | null = null;
    for await (const page of source.pages('products', null)) {
      sizes.push(page.records.length);
      if (sizes.length === 2) resumeAt = page.next;
    }
    expect(sizes).toEqual([5, 5, 5, 5, 5, 5, 5, 5, 0]);
    const resumed: unknown[] = [];
    for await (const page of source.pages('products', resumeAt)) resumed.push(...page.records);
    expect(resumed).toHaveLength(30);
    expect(resumed[0]).toMatchObject({ StokKodu: 'P-10' });
  });
});

describe('CSV record and field caps', () => {
  let f: ErpFixture;
  let exporter: Exporter;
  beforeAll(async () => {
    // The egress cap (5 MB by default) would stop this export on its own; lifted, so the record cap is what is tested.
    f = await startErpFixture({ egress: { maxResponseBytes: 1024 * MB } });
    exporter = await startExporter();
  });
  afterAll(async () => {
    await exporter?.close();
    await f?.close();
  });

  it('dead-letters a row with a field over the field cap (cut), and mapped again, as a replay does, it stays refused', async () => {
    const { stack } = f;
    const t = await stack.createTenant('Wide field tenant');
    const id = await createIntegration(stack, t.auth, csvIntegration(exporter.url, '/wide.csv'));
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: 3, valid: 2, invalid: 1, upserted: 2 });
    expect((await readCatalog(stack, t.auth, 'products')).map((p) => p.sku).sort()).toEqual(['W-1', 'W-3']);
    const dead = (await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200)).body.data as {
      raw: Record<string, string>;
      errors: unknown;
    }[];
    expect(dead).toHaveLength(1);
    const message = `source field 'Aciklama' is ${300 * 1024} bytes, over the ${maxFieldBytes}-byte cap (ERP_MAX_FIELD_BYTES)`;
    expect(dead[0]!.errors).toEqual([{ field: 'Aciklama', message }]);
    expect(dead[0]!.raw).toMatchObject({ StokKodu: 'W-2', Aciklama: `${'y'.repeat(1024)}… (cut: ${300 * 1024} bytes)` });
    // What is stored is cut: mapped again (a replay), the row stays refused instead of upserting the cut text.
    const mapping = compileMapping('products', productMappings.products);
    // Its key is still known: once the source is fixed, the next sync of W-2 resolves the letter.
    expect(mapping.map(dead[0]!.raw)).toEqual({ ok: false, errors: [{ field: 'Aciklama', message }], key: 'W-2' });
    expect(dead[0]).toMatchObject({ recordKey: 'W-2' });
    expect(REFUSED_ROW_KEY in dead[0]!.raw).toBe(true);
  }, 60_000);

  // After the test above, so the worker's first workflow task (loading the workflow bundle) is not counted.
  it('fails the run at a 200 MB field, naming the line and the cap, with the worker memory flat', async () => {
    const { stack } = f;
    const t = await stack.createTenant('Huge field tenant');
    const id = await createIntegration(stack, t.auth, csvIntegration(exporter.url, '/huge.csv'));
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const runId = await startSync(stack, t.auth, id, 'products', 'full');
      const run = await waitForRun(stack, t.auth, id, runId, 60_000);
      expect(run.status).toBe('failed');
      expect(run.errors.at(-1)?.message).toBe(
        `CSV line 3: a row is larger than the ${maxRecordBytes}-byte cap (ERP_MAX_RECORD_BYTES); the run stops there (pages committed before it stay)`,
      );
      // openErpRun, syncErpPages (not retried: the export would be as large again), finishErpRun.
      expect(await activityAttempts(f, t.auth, id, runId)).toEqual([1, 1, 1]);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - before;
    console.log(`huge field: RSS ${Math.round(before / MB)} MB before, peak +${Math.round(growth / MB)} MB; export sent ${Math.round(exporter.hugeBytesSent / MB)} of ${HUGE_FIELD_BYTES / MB} MB`);
    expect(growth).toBeLessThan(64 * MB);
    // The reader stopped at the cap: the field was never read, let alone buffered, whole.
    expect(exporter.hugeBytesSent).toBeLessThan(HUGE_FIELD_BYTES / 4);
  }, 90_000);
});

describe('REST page caps', () => {
  let f: ErpFixture;
  let exporter: Exporter;
  beforeAll(async () => {
    f = await startErpFixture();
    exporter = await startExporter();
  });
  afterAll(async () => {
    await exporter?.close();
    await f?.close();
  });

  it.each([
    ['/api/large', /^the ERP's answer to \/api\/large is too large: Response from '127\.0\.0\.1' exceeded the 5242880-byte size cap \(EGRESS_MAX_RESPONSE_BYTES\); ask for smaller pages$/],
    ['/api/many', new RegExp(`^the ERP's page from /api/many holds ${maxPageRecords + 1} records, over the ${maxPageRecords}-record cap \\(ERP_MAX_PAGE_RECORDS\\); ask for smaller pages$`)],
  ])('fails the run on a page from %s over the cap, without retries', async (path, reason) => {
    const { stack } = f;
    const t = await stack.createTenant(`Page cap tenant ${path}`);
    const id = await createIntegration(stack, t.auth, restIntegration(exporter.url, path));
    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const run = await waitForRun(stack, t.auth, id, runId, 30_000);
    expect(run.status).toBe('failed');
    expect(run.errors.at(-1)?.message).toMatch(reason);
    expect(await activityAttempts(f, t.auth, id, runId)).toEqual([1, 1, 1]);
  }, 60_000);

  it('takes a page of exactly the cap, here all dead letters', async () => {
    const { stack } = f;
    const t = await stack.createTenant('Page at cap tenant');
    const id = await createIntegration(stack, t.auth, restIntegration(exporter.url, '/api/at-cap'));
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'), 60_000);
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: maxPageRecords, valid: 0, invalid: maxPageRecords });
  }, 90_000);
});
