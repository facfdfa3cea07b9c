/**
 * `npm run bench -- erp-csv`: CSV → catalog through the real pipeline against a raw bulk insert of
 * the same rows, in one run on a scratch database of the local Postgres.
 *
 * Real path, in the production form: `npm run build` first (every run: a stale dist/ is never
 * measured), then the Temporal dev server and a production worker, `node dist/workers/main.js` with
 * plain node (no tsx, NODE_OPTIONS not passed on), NODE_ENV=production, as the `worker-erp` service
 * of docker-compose.yml runs it: its node flags (the heap limit) and WORKER_TASK_QUEUES=erp
 * (BENCH_ERP_WORKER=all-queues: one worker serving every family, no flags). A Windows-1254 semicolon file is stored as an upload (erp_upload_chunks, as PUT
 * /v1/integrations/:id/files/:entity does; by this process, timed on its own), then a run is created
 * and ErpPollWorkflow started as POST /v1/integrations/:id/sync does, and the time is from the start to
 * the workflow's result: the worker reads the upload back chunk by chunk, iconv-lite → csv-parse,
 * pages of the stream's default pageSize, the compiled mapping (trim, E/H booleans) with its zod
 * validation, one unnest-array INSERT … ON CONFLICT DO UPDATE WHERE changed per page, committed with
 * the run's checkpoint and counts, in `syncErpPages` activities of 20 s each, then `finishErpRun`.
 * Memory: the worker's resident set before the start (idle, after start-up) and its VmHWM (the
 * kernel's high-water mark of the whole process since it started: start-up, workflow bundle, Temporal
 * core, the sync) after the run; the goal is on that peak.
 * Without a heap limit Node sizes V8's heap from the memory it sees, so on a large host the old
 * generation grows to a few times the live heap between full collections; the ERP deployment sets one
 * (docs/operations.md, Worker memory).
 * Not in the worker: generating and storing the file, and the baselines (this process).
 * Baselines: the same final rows into a table of the same shape (LIKE catalog_products) by multi-row
 * INSERT in batches of 1000, and by COPY.
 * Rows: BENCH_CSV_ROWS (default 1,000,000).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import iconv from 'iconv-lite';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { parse as parseYaml } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { storeUpload } from '../src/stores/erp/upload-store.js';
import { ZERO_COUNTS } from '../src/domain/erp/record-counts.js';
import { workerSchema } from '../src/config/env.js';
import { connectPostgres } from '../src/db/client.js';
import { erpIntegrations, erpRuns, tenants } from '../src/db/schema.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { csvConnectorSchema } from '../src/providers/erp/connector-definition.js';
import type { ErpPollInput } from '../src/shared/erp-messages.js';
import { integrationSearchAttributes } from '../src/shared/search-attributes.js';
import { taskQueuesFor } from '../src/shared/task-queues.js';
import { workflowId } from '../src/shared/workflow-ids.js';
import { temporalDataConverter } from '../src/temporal/connection.js';
import { tenantPriority } from '../src/shared/fairness.js';
import { startWorkflow } from '../src/temporal/start-workflow.js';
import { buildDist, ROOT, startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase } from './lib/environment.js';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
/** The families the measured worker serves: `erp` (an ERP deployment) or `all`. */
const WORKER_FORM = process.env.BENCH_ERP_WORKER ?? 'compose';

/**
 * The worker as measured: `compose` (default), the `worker-erp` service of docker-compose.yml as it is
 * deployed (its node flags and WORKER_TASK_QUEUES); `all-queues`, one worker serving every family with
 * no flags (the form before the ERP deployment was split off).
 */
function erpWorkerForm(): { nodeArgs: string[]; env: Record<string, string> } {
  if (WORKER_FORM === 'all-queues') return { nodeArgs: [], env: {} };
  if (WORKER_FORM !== 'compose') throw new Error(`BENCH_ERP_WORKER must be compose or all-queues, not ${WORKER_FORM}`);
  const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
  };
  const service = compose.services['worker-erp'];
  if (!service?.command || service.command.at(-1) !== 'dist/workers/main.js') throw new Error('docker-compose.yml has no worker-erp service running dist/workers/main.js');
  return { nodeArgs: service.command.slice(1, -1), env: { WORKER_TASK_QUEUES: service.environment?.WORKER_TASK_QUEUES ?? '' } };
}
const BATCH = 1000;
const log = (msg: string) => console.log(`[bench erp-csv ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Row i as the catalog must end up holding it. */
function product(i: number) {
  const sku = `STK-${String(i).padStart(7, '0')}`;
  return {
    sku,
    name: `Ürün ${i} çay bardağı; ince belli`,
    description: i % 3 === 0 ? `Açıklama ${i}` : null,
    active: i % 5 !== 0,
  };
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

export async function runErpCsvBench(): Promise<void> {
  log('npm run build (the worker runs dist/, built from this checkout now)');
  const buildSeconds = buildDist();
  log(`built in ${buildSeconds.toFixed(0)} s`);
  const scratchDb = await scratchDatabase(`switchyard_bench_csv_${process.pid}`);
  const url = scratchDb.url;
  const database = connectPostgres(url, { poolSize: 4 });
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  log('starting the Temporal dev server');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  let worker: BenchProcess | undefined;
  let connection: Connection | undefined;
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
    await db.insert(erpIntegrations).values({
      id: 'int_bench',
      tenantId: 'ten_bench',
      name: 'Bench',
      type: 'polling',
      connector,
      mappings: { products: mappings },
    });
    await sql`create table bench_raw_products (like catalog_products including all)`;
    await sql`create table bench_copy_products (like catalog_products including all)`;
    log(`${ROWS} rows; bench PID ${process.pid}`);

    // Real path: store the upload (this process), then the sync by a production worker through Temporal.
    const upload = await measured(async () => {
      await storeUpload(
        db,
        { tenantId: 'ten_bench', integrationId: 'int_bench', entity: 'products', contentType: 'text/csv' },
        Readable.from(csvFile()),
        Number.MAX_SAFE_INTEGER,
      );
    });
    log(`upload stored: ${upload.seconds.toFixed(1)} s`);

    const codecKeys = `bench:${randomBytes(32).toString('base64')}`;
    const suffix = `bench${process.pid}`;
    const form = erpWorkerForm();
    log(`starting the worker (${WORKER_FORM}): node ${[...form.nodeArgs, 'dist/workers/main.js'].join(' ')} ${JSON.stringify(form.env)}`);
    worker = await startProcess(
      'worker',
      path.join(ROOT, 'dist/workers/main.js'),
      {
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: temporalServer.address,
        CREDENTIALS_KEYS: `bench:${randomBytes(32).toString('base64')}`,
        PAYLOAD_CODEC_KEYS: codecKeys,
        TASK_QUEUE_SUFFIX: suffix,
        LOG_LEVEL: 'info',
        NODE_ENV: 'production',
        ...form.env,
      },
      /worker running/,
      undefined,
      form.nodeArgs,
    );
    connection = await Connection.connect({ address: temporalServer.address });
    const client = new Client({
      connection,
      namespace: temporalServer.namespace,
      dataConverter: temporalDataConverter({
        PAYLOAD_CODEC_KEYS: workerSchema.shape.PAYLOAD_CODEC_KEYS.parse(codecKeys),
      }),
    });
    // Let the worker settle after start-up (its first polls, the schedules it ensures) before the "before" figure.
    await new Promise((r) => setTimeout(r, 3000));

    // As POST /v1/integrations/:id/sync: the run row, then ErpPollWorkflow.
    const runId = `erun_bench${process.pid}`;
    const wfId = workflowId.erpRun('int_bench', 'products', runId);
    await db.insert(erpRuns).values({
      id: runId,
      tenantId: 'ten_bench',
      integrationId: 'int_bench',
      entity: 'products',
      mode: 'full',
      trigger: 'api',
      workflowId: wfId,
      counts: ZERO_COUNTS,
      checkpoint: { next: null, pages: 0, done: false },
    });
    const input: ErpPollInput = {
      tenantId: 'ten_bench',
      integrationId: 'int_bench',
      entity: 'products',
      mode: 'full',
      trigger: 'api',
      runId,
    };
    const rssBeforeMb = worker.rssMb();
    const peakBeforeMb = worker.peakRssMb();
    const cpuBefore = worker.cpuSeconds();
    const timeline: number[] = [];
    const sampler = setInterval(() => timeline.push(worker!.rssMb()), 250);
    const started = performance.now();
    let seconds: number;
    try {
      const handle = await startWorkflow(client, 'erpPollWorkflow', {
        taskQueue: taskQueuesFor(suffix).erp,
        workflowId: wfId,
        args: [input],
        typedSearchAttributes: integrationSearchAttributes('ten_bench', 'int_bench'),
        priority: tenantPriority('ten_bench'),
      });
      // A worker that dies mid-sync would leave the workflow waiting for another one: fail instead.
      let onExit: ((code: number | null) => void) | undefined;
      const exited = new Promise<never>((_, reject) => {
        onExit = (code) => reject(new Error(`the worker exited (${code}) during the sync`));
        worker!.child.once('exit', onExit);
      });
      try {
        await Promise.race([handle.result(), exited]);
      } finally {
        worker.child.off('exit', onExit!);
      }
      seconds = (performance.now() - started) / 1000;
    } finally {
      clearInterval(sampler);
    }
    const cpuSeconds = worker.cpuSeconds() - cpuBefore;
    const peakRssMb = worker.peakRssMb();
    // Activities of the run's last execution (a run continues as new only after 100 of them).
    const history = await client.workflow.getHandle(wfId).fetchHistory();
    const calls = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncErpPages',
    ).length;
    const [run] = await db.select().from(erpRuns).where(eq(erpRuns.id, runId));
    const { upserted, invalid } = run!.counts;
    if (run!.status !== 'succeeded' || upserted !== ROWS || invalid !== 0) {
      throw new Error(
        `real path ${run!.status}: upserted ${upserted} rows with ${invalid} invalid; expected ${ROWS}`,
      );
    }
    /** The worker's RSS each second (the highest of its 250 ms samples). */
    const perSecond = Array.from({ length: Math.ceil(timeline.length / 4) }, (_, i) =>
      Math.max(...timeline.slice(i * 4, i * 4 + 4)),
    );
    log(
      `real pipeline: ${seconds.toFixed(1)} s, ${calls} syncErpPages activities, ${run!.checkpoint.pages} pages, ${Math.round(ROWS / seconds)} rows/s, ${((cpuSeconds / ROWS) * 1e6).toFixed(1)} µs of worker CPU a row`,
    );
    log(
      `worker RSS: ${rssBeforeMb} MB before the sync (peak ${peakBeforeMb} MB during start-up), peak ${peakRssMb} MB; each second: ${perSecond.join(' ')}`,
    );
    await worker.stop();
    worker = undefined;

    // Baseline 1: multi-row INSERT of the same final rows, 1000 a statement.
    const insert = await measured(async () => {
      for (let from = 1; from <= ROWS; from += BATCH) {
        const rows = [];
        for (let i = from; i < Math.min(from + BATCH, ROWS + 1); i++) {
          const p = product(i);
          rows.push({
            tenant_id: 'ten_bench',
            sku: p.sku,
            name: p.name,
            description: p.description,
            active: p.active,
            integration_id: 'int_bench',
          });
        }
        await sql`insert into bench_raw_products ${sql(rows)}`;
      }
    });
    log(`multi-row INSERT: ${insert.seconds.toFixed(1)} s, ${Math.round(ROWS / insert.seconds)} rows/s`);

    // Baseline 2: COPY of the same rows (text format).
    const copy = await measured(async () => {
      const writable =
        await sql`copy bench_copy_products (tenant_id, sku, name, description, active, integration_id) from stdin`.writable();
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
    log(`COPY: ${copy.seconds.toFixed(1)} s, ${Math.round(ROWS / copy.seconds)} rows/s`);

    const [check] = await sql<
      { n: number }[]
    >`select count(*)::int as n from catalog_products c join bench_raw_products r using (tenant_id, sku) where (c.name, c.description, c.active) is not distinct from (r.name, r.description, r.active)`;
    if (check?.n !== ROWS)
      throw new Error(`the real path and the baseline disagree on ${ROWS - (check?.n ?? 0)} rows`);

    const rate = (s: number) => Math.round(ROWS / s);
    console.log(
      '\nCSV → catalog, same rows, same table shape, same run (identical results checked row by row)',
    );
    console.log(
      `  real pipeline (production worker from dist/, ErpPollWorkflow start → result): ${rate(seconds)} rows/s (${seconds.toFixed(1)} s)`,
    );
    console.log(
      `  multi-row INSERT baseline:                    ${rate(insert.seconds)} rows/s (${insert.seconds.toFixed(1)} s)`,
    );
    console.log(
      `  COPY baseline:                                ${rate(copy.seconds)} rows/s (${copy.seconds.toFixed(1)} s)`,
    );
    const vsInsert = insert.seconds / seconds;
    const vsCopy = copy.seconds / seconds;
    console.log(
      `  ratio vs multi-row INSERT: ${vsInsert.toFixed(2)}x (goal >= 0.5x: ${vsInsert >= 0.5 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `  ratio vs COPY:             ${vsCopy.toFixed(2)}x (goal >= 0.5x: ${vsCopy >= 0.5 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `  CPU of the worker process: ${((cpuSeconds / ROWS) * 1e6).toFixed(1)} µs a row (${cpuSeconds.toFixed(1)} s; the rest of the wall time is Postgres and waiting)`,
    );
    console.log(
      `  peak RSS of the worker process (VmHWM): ${peakRssMb} MB; ${rssBeforeMb} MB before the sync (goal < 300 MB: ${peakRssMb < 300 ? 'met' : 'NOT met'})`,
    );
    console.log(`  storing the upload beforehand (not in the ratio): ${upload.seconds.toFixed(1)} s`);
    const load = os.loadavg().map((l) => Number(l.toFixed(1)));
    console.log(
      `  load average at the end: ${load.join(' ')} on ${os.cpus().length} cores (other work on the machine skews the ratios)`,
    );
    const results = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        loadAverage: load,
      },
      rows: ROWS,
      measured: `node ${[...form.nodeArgs, 'dist/workers/main.js'].join(' ')} ${JSON.stringify(form.env)} (${WORKER_FORM}; npm run build in the same run), ErpPollWorkflow through the Temporal dev server`,
      pipeline: {
        seconds,
        rowsPerSecond: rate(seconds),
        workerCpuMicrosPerRow: Number(((cpuSeconds / ROWS) * 1e6).toFixed(1)),
        activityCalls: calls,
        pages: run!.checkpoint.pages,
        peakRssMb,
        rssBeforeMb,
        peakRssAtStartupMb: peakBeforeMb,
        rssEachSecondMb: perSecond,
      },
      uploadSeconds: upload.seconds,
      multiRowInsert: {
        seconds: insert.seconds,
        rowsPerSecond: rate(insert.seconds),
        ratio: Number(vsInsert.toFixed(2)),
      },
      copy: { seconds: copy.seconds, rowsPerSecond: rate(copy.seconds), ratio: Number(vsCopy.toFixed(2)) },
      goals: {
        ratio: '>= 0.5x',
        ratioMet: vsInsert >= 0.5,
        peakRss: '< 300 MB',
        peakRssMet: peakRssMb < 300,
      },
    };
    const dir = path.join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(
      dir,
      `${results.date.slice(0, 10)}-erp-csv${ROWS === 1_000_000 ? '' : `-${ROWS}`}.json`,
    );
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`  written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await worker?.stop();
    await connection?.close();
    await temporalServer.stop();
    await sql.end();
    await database.close();
    await scratchDb.drop();
  }
}
