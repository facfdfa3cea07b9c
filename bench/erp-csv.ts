/**
 * `npm run bench -- erp-csv`: CSV → catalog through the real pipeline against a raw bulk insert of
 * the same rows, in one run on a scratch database of the local Postgres.
 *
 * Real path: a Windows-1254 semicolon file stored as an upload (erp_upload_chunks, as PUT
 * /v1/integrations/:id/files/:entity does; timed on its own), then the sync activity itself
 * (`syncErpPages`, called in an activity context until the run is done, as ErpPollWorkflow does): the
 * upload read back chunk by chunk, iconv-lite → csv-parse, pages of the stream's default pageSize, the
 * compiled mapping (trim, E/H booleans) with its zod validation, one unnest-array INSERT … ON CONFLICT
 * DO UPDATE WHERE changed per page, committed with the run's checkpoint and counts.
 * Baselines: the same final rows into a table of the same shape (LIKE catalog_products) by multi-row
 * INSERT in batches of 1000, and by COPY.
 * Rows: BENCH_CSV_ROWS (default 1,000,000). The sync runs in a process of its own, started for it as a
 * worker would run it (connect, then `syncErpPages` until done), so its peak RSS (VmHWM, the kernel's
 * high-water mark of the whole process, module loading included) is the sync's and not that of the
 * benchmark generating and storing a million rows beforehand.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import iconv from 'iconv-lite';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createErpActivities, type PageResult } from '../src/activities/erp/erp-activities.js';
import { storeUpload } from '../src/activities/erp/upload-store.js';
import { connectPostgres } from '../src/db/client.js';
import { erpIntegrations, erpRuns, tenants } from '../src/db/schema.js';
import { csvConnectorSchema } from '../src/providers/erp/definition.js';
import { CredentialCipher } from '../src/secrets/credential-cipher.js';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BATCH = 1000;
const log = (msg: string) => console.log(`[bench erp-csv ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Row i as the catalog must end up holding it. */
function product(i: number) {
  const sku = `STK-${String(i).padStart(7, '0')}`;
  return { sku, name: `Ürün ${i} çay bardağı; ince belli`, description: i % 3 === 0 ? `Açıklama ${i}` : null, active: i % 5 !== 0 };
}

/** The export: Windows-1254, semicolons, CRLF, quoted fields, untrimmed names, E/H booleans. */
async function* csvFile(): AsyncIterable<Buffer> {
  yield iconv.encode('StokKodu;UrunAdi;Aciklama;Aktif\r\n', 'win1254');
  for (let from = 1; from <= ROWS; from += BATCH) {
    let text = '';
    for (let i = from; i < Math.min(from + BATCH, ROWS + 1); i++) {
      const p = product(i);
      text += `${p.sku};"  ${p.name} ";${p.description ?? ''};${p.active ? 'E' : 'H'}\r\n`;
    }
    yield iconv.encode(text, 'win1254');
  }
}

/** Runs `work` while sampling the RSS; returns its duration and the peak RSS in MB. */
async function measured(work: () => Promise<void>): Promise<{ seconds: number; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds: (performance.now() - started) / 1000, peakMb: Math.round(peak / 2 ** 20) };
}

/** Peak and current resident set size of this process in MB, from /proc (Linux). */
function rssOfThisProcess(): { peakMb: number; nowMb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mb = (field: string) => Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024);
  return { peakMb: mb('VmHWM'), nowMb: mb('VmRSS') };
}

interface SyncReport {
  seconds: number;
  /** CPU time of the sync process during the sync (user + system): Node's share, the rest is Postgres. */
  cpuSeconds: number;
  calls: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** The sync process: what a worker does for the run, timed from the first activity call to the last. */
async function syncProcess(url: string, runId: string): Promise<SyncReport> {
  const database = connectPostgres(url, { poolSize: 4 });
  try {
    const activities = createErpActivities({
      db: database.db,
      cipher: new CredentialCipher([{ id: 'bench', key: Buffer.alloc(32, 7) }]),
      erpFetch: () => Promise.reject(new Error('no HTTP in this benchmark')),
      erpUrlPolicy: { allowPrivateNetworks: false },
    });
    const rssBeforeMb = rssOfThisProcess().nowMb;
    let calls = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let done = false; !done; calls++) {
      const page: PageResult = await new MockActivityEnvironment().run(activities.syncErpPages, { tenantId: 'ten_bench', runId });
      done = page.done;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, calls, rssBeforeMb, peakRssMb: rssOfThisProcess().peakMb };
  } finally {
    await database.close();
  }
}

/** Runs the sync of `runId` in a new process (`node --import tsx` this file) and returns its report. */
function syncInOwnProcess(url: string, runId: string): Promise<SyncReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ERP_CSV_SYNC: JSON.stringify({ url, runId }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = /^sync report (.+)$/m.exec(output)?.[1];
      if (code === 0 && line) resolve(JSON.parse(line) as SyncReport);
      else reject(new Error(`the sync process exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
}

if (process.env.BENCH_ERP_CSV_SYNC) {
  const { url, runId } = JSON.parse(process.env.BENCH_ERP_CSV_SYNC) as { url: string; runId: string };
  syncProcess(url, runId).then(
    (report) => console.log(`sync report ${JSON.stringify(report)}`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

export async function runErpCsvBench(): Promise<void> {
  const dbName = `switchyard_bench_csv_${process.pid}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const database = connectPostgres(url, { poolSize: 4 });
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    await database.migrate();
    const { db } = database;
    await db.insert(tenants).values({ id: 'ten_bench', name: 'Bench' });
    const connector = csvConnectorSchema.parse({ type: 'csv', streams: { products: { upload: true } } });
    const mappings = [
      { sourceField: 'StokKodu', targetField: 'sku', required: true },
      { sourceField: 'UrunAdi', targetField: 'name', transformation: 'trim', required: true },
      { sourceField: 'Aciklama', targetField: 'description' },
      { sourceField: 'Aktif', targetField: 'active', transformation: { type: 'boolean' } },
    ];
    await db.insert(erpIntegrations).values({ id: 'int_bench', tenantId: 'ten_bench', name: 'Bench', type: 'polling', connector, mappings: { products: mappings } });
    await sql`create table bench_raw_products (like catalog_products including all)`;
    await sql`create table bench_copy_products (like catalog_products including all)`;
    log(`${ROWS} rows; PID ${process.pid}; RSS at start ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);

    // Real path: store the upload, then run the sync activity until the run is done.
    const upload = await measured(async () => {
      await storeUpload(db, { tenantId: 'ten_bench', integrationId: 'int_bench', entity: 'products', contentType: 'text/csv' }, Readable.from(csvFile()), Number.MAX_SAFE_INTEGER);
    });
    log(`upload stored: ${upload.seconds.toFixed(1)} s, peak RSS ${upload.peakMb} MB`);
    const activities = createErpActivities({
      db,
      cipher: new CredentialCipher([{ id: 'bench', key: Buffer.alloc(32, 7) }]),
      erpFetch: () => Promise.reject(new Error('no HTTP in this benchmark')),
      erpUrlPolicy: { allowPrivateNetworks: false },
    });
    const { runId } = await activities.openErpRun({ tenantId: 'ten_bench', integrationId: 'int_bench', entity: 'products', mode: 'full', trigger: 'api', workflowId: 'erp-bench' });
    const sync = await syncInOwnProcess(url, runId);
    const real = { seconds: sync.seconds, peakMb: sync.peakRssMb };
    const { calls, rssBeforeMb: startRss } = sync;
    const [run] = await db.select().from(erpRuns).where(eq(erpRuns.id, runId));
    const { upserted, invalid } = run!.counts;
    if (upserted !== ROWS || invalid !== 0) throw new Error(`real path upserted ${upserted} rows with ${invalid} invalid; expected ${ROWS}`);
    log(`real pipeline: ${real.seconds.toFixed(1)} s in ${calls} activity calls, ${run!.checkpoint.pages} pages, ${Math.round(ROWS / real.seconds)} rows/s, ${((sync.cpuSeconds / ROWS) * 1e6).toFixed(1)} µs of Node CPU a row, peak RSS of the sync process ${real.peakMb} MB (${startRss} MB before the sync)`);

    // Baseline 1: multi-row INSERT of the same final rows, 1000 a statement.
    const insert = await measured(async () => {
      for (let from = 1; from <= ROWS; from += BATCH) {
        const rows = [];
        for (let i = from; i < Math.min(from + BATCH, ROWS + 1); i++) {
          const p = product(i);
          rows.push({ tenant_id: 'ten_bench', sku: p.sku, name: p.name, description: p.description, active: p.active, integration_id: 'int_bench' });
        }
        await sql`insert into bench_raw_products ${sql(rows)}`;
      }
    });
    log(`multi-row INSERT: ${insert.seconds.toFixed(1)} s, ${Math.round(ROWS / insert.seconds)} rows/s, peak RSS ${insert.peakMb} MB`);

    // Baseline 2: COPY of the same rows (text format).
    const copy = await measured(async () => {
      const writable = await sql`copy bench_copy_products (tenant_id, sku, name, description, active, integration_id) from stdin`.writable();
      async function* lines() {
        for (let from = 1; from <= ROWS; from += BATCH) {
          let text = '';
          for (let i = from; i < Math.min(from + BATCH, ROWS + 1); i++) {
            const p = product(i);
            text += `ten_bench\t${p.sku}\t${p.name}\t${p.description ?? '\\N'}\t${p.active ? 't' : 'f'}\tint_bench\n`;
          }
          yield text;
        }
      }
      await pipeline(Readable.from(lines()), writable);
    });
    log(`COPY: ${copy.seconds.toFixed(1)} s, ${Math.round(ROWS / copy.seconds)} rows/s, peak RSS ${copy.peakMb} MB`);

    const [check] = await sql<{ n: number }[]>`select count(*)::int as n from catalog_products c join bench_raw_products r using (tenant_id, sku) where (c.name, c.description, c.active) is not distinct from (r.name, r.description, r.active)`;
    if (check?.n !== ROWS) throw new Error(`the real path and the baseline disagree on ${ROWS - (check?.n ?? 0)} rows`);

    const rate = (s: number) => Math.round(ROWS / s);
    console.log('\nCSV → catalog, same rows, same table shape, same run (identical results checked row by row)');
    console.log(`  real pipeline (parse, map, validate, upsert): ${rate(real.seconds)} rows/s (${real.seconds.toFixed(1)} s)`);
    console.log(`  multi-row INSERT baseline:                    ${rate(insert.seconds)} rows/s (${insert.seconds.toFixed(1)} s)`);
    console.log(`  COPY baseline:                                ${rate(copy.seconds)} rows/s (${copy.seconds.toFixed(1)} s)`);
    const vsInsert = insert.seconds / real.seconds;
    const vsCopy = copy.seconds / real.seconds;
    console.log(`  ratio vs multi-row INSERT: ${vsInsert.toFixed(2)}x (goal >= 0.5x: ${vsInsert >= 0.5 ? 'met' : 'NOT met'})`);
    console.log(`  ratio vs COPY:             ${vsCopy.toFixed(2)}x (goal >= 0.5x: ${vsCopy >= 0.5 ? 'met' : 'NOT met'})`);
    console.log(`  Node CPU of the sync process: ${((sync.cpuSeconds / ROWS) * 1e6).toFixed(1)} µs a row (${sync.cpuSeconds.toFixed(1)} s; the rest of the wall time is Postgres and waiting)`);
    console.log(`  peak RSS of the sync process: ${real.peakMb} MB, ${startRss} MB before the sync (goal < 300 MB: ${real.peakMb < 300 ? 'met' : 'NOT met'})`);
    console.log(`  storing the upload beforehand (not in the ratio): ${upload.seconds.toFixed(1)} s`);
    const load = os.loadavg().map((l) => Number(l.toFixed(1)));
    console.log(`  load average at the end: ${load.join(' ')} on ${os.cpus().length} cores (other work on the machine skews the ratios)`);
    const results = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: load },
      rows: ROWS,
      pipeline: { seconds: real.seconds, rowsPerSecond: rate(real.seconds), nodeCpuMicrosPerRow: Number(((sync.cpuSeconds / ROWS) * 1e6).toFixed(1)), activityCalls: calls, pages: run!.checkpoint.pages, peakRssMb: real.peakMb, rssBeforeMb: startRss },
      uploadSeconds: upload.seconds,
      multiRowInsert: { seconds: insert.seconds, rowsPerSecond: rate(insert.seconds), ratio: Number(vsInsert.toFixed(2)) },
      copy: { seconds: copy.seconds, rowsPerSecond: rate(copy.seconds), ratio: Number(vsCopy.toFixed(2)) },
      goals: { ratio: '>= 0.5x', ratioMet: vsInsert >= 0.5, peakRss: '< 300 MB', peakRssMet: real.peakMb < 300 },
    };
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${results.date.slice(0, 10)}-erp-csv${ROWS === 1_000_000 ? '' : `-${ROWS}`}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`  written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await sql.end();
    await database.close();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
