/**
 * `npm run bench`: Switchyard's payment path against bare Temporal, on one dev server and one
 * Postgres, in the same run, in alternating rounds (BENCH_ROUNDS, default 2: A B A B) so load that
 * comes and goes on this small shared machine falls on both sides. The report is ratios, with N,
 * duration and spread, never absolute claims.
 *
 * Real path: the API and the worker as separate processes, compiled (`node dist/...`, built at the
 * start of every run), as production runs them; an emulated
 * gateway (AcmePay) answering every charge, one successful attempt per payment.
 * Baseline: a bare workflow whose one activity does one Postgres insert and one HTTP POST to the
 * same emulator (bench/baseline); for webhooks, a bare node:http handler doing one insert and one
 * signal (bench/baseline/webhook-server.ts).
 */
import { createHmac, randomUUID } from 'node:crypto';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { startAcmepayEmulator } from '../emulators/gateways/acmepay.js';
import { startPendingpayEmulator } from '../emulators/gateways/pendingpay.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { bareCallbackSignal, type bareChargeWorkflow, type bareWaitingWorkflow } from './baseline/workflows.js';
import { buildDist, cpuMeter, sharedProcessGroups, startBaselineWorker, startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase, switchyardSettings } from './lib/environment.js';
import { countFinal, paymentPoster, paymentWorkloadFrom, setUpMerchant, waitUntilFinal } from './lib/payments.js';
import { markdownTable, writeBenchResult } from './lib/results.js';
import { alternateRounds, cpuMsPer, runConcurrently, summarize, type Summary } from './lib/stats.js';

const { payments: N, concurrency: CONCURRENCY, latencyRequests: LATENCY_N, rounds: ROUNDS } = paymentWorkloadFrom(process.env);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 1000);
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3950);

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface Row {
  measure: string;
  switchyard: string;
  baseline: string;
  ratio: number;
  goal: string;
  met: boolean;
}

async function main(): Promise<void> {
  const started = Date.now();
  log('npm run build (API and worker run dist/, as in production, built from this checkout now)');
  log(`built in ${buildDist().toFixed(0)} s`);
  const scratchDb = await scratchDatabase(`switchyard_bench_${process.pid}`);
  const databaseUrl = scratchDb.url;
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });
  await sql`create table bench_baseline_charges (id text primary key, amount int not null, created_at timestamptz not null default now())`;
  await sql`create table bench_baseline_events (id text primary key, workflow_id text not null, payload jsonb not null, created_at timestamptz not null default now())`;

  log('starting the Temporal dev server and the emulated gateways');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const acme = await startAcmepayEmulator();
  const pending = await startPendingpayEmulator({ callbackDelayMs: 3_600_000 });
  const connection = await Connection.connect({ address: temporalServer.address });
  const client = new Client({ connection, namespace: 'default' });
  const processes: BenchProcess[] = [];

  try {
    const { adminToken, env: common } = switchyardSettings({ databaseUrl, temporalAddress: temporalServer.address, taskQueueSuffix: 'bench' });
    log('starting the worker, the API and the baseline worker as separate processes');
    const worker = await startProcess('worker', 'dist/workers/main.js', { ...common, LOG_LEVEL: 'info' }, /worker running/);
    const api = await startProcess('api', 'dist/api/main.js', { ...common, ADMIN_TOKEN: adminToken, PORT: String(API_PORT), LOG_LEVEL: 'info' }, /api listening/);
    const baselineQueue = 'bench-baseline';
    const baselineWorker = await startBaselineWorker({
      databaseUrl,
      temporalAddress: temporalServer.address,
      taskQueue: baselineQueue,
      gateway: { url: acme.url, authorization: `Basic ${Buffer.from(`${acme.accountId}:${acme.apiKey}`).toString('base64')}` },
    });
    const baselineHooks = await startProcess(
      'baseline webhook server',
      'bench/baseline/webhook-server.ts',
      { BENCH_DATABASE_URL: databaseUrl, BENCH_TEMPORAL_ADDRESS: temporalServer.address, BENCH_BASELINE_PORT: String(API_PORT + 1) },
      /baseline webhook server listening/,
    );
    processes.push(worker, api, baselineWorker, baselineHooks);
    const apiUrl = `http://127.0.0.1:${API_PORT}`;
    const merchant = await setUpMerchant(apiUrl, adminToken, acme, pending);
    const idle = { apiMb: api.rssMb(), workerMb: worker.rssMb() };

    const postPayment = paymentPoster(apiUrl, merchant.apiKey);
    const bareStart = (id: string) => client.workflow.start<typeof bareChargeWorkflow>('bareChargeWorkflow', { taskQueue: baselineQueue, workflowId: `bare-${id}`, args: [{ id, amount: 1050 }] });
    const bareExecute = (id: string) => client.workflow.execute<typeof bareChargeWorkflow>('bareChargeWorkflow', { taskQueue: baselineQueue, workflowId: `bare-${id}`, args: [{ id, amount: 1050 }] });

    log('warming up both paths (20 each)');
    await runConcurrently(20, 10, async () => void (await postPayment(30)));
    await runConcurrently(20, 10, async () => void (await bareExecute(randomUUID())));

    // P1: completed payments per second. Each lane submits a payment and waits for its outcome.
    log(`P1: ${N} payments at concurrency ${CONCURRENCY} per path, in ${ROUNDS} alternating rounds`);
    const rssPeak = { apiMb: 0, workerMb: 0 };
    const sampler = setInterval(() => {
      rssPeak.apiMb = Math.max(rssPeak.apiMb, api.rssMb());
      rssPeak.workerMb = Math.max(rssPeak.workerMb, worker.rssMb());
    }, 250);
    // Where each path's CPU goes (2 cores are shared by all of these, so CPU per payment is what
    // bounds throughput here): per process group, while that path's rounds ran.
    const cpu = cpuMeter({
      api: () => [api.child.pid!],
      worker: () => [worker.child.pid!],
      'baseline worker': () => [baselineWorker.child.pid!],
      'baseline webhook server': () => [baselineHooks.child.pid!],
      ...sharedProcessGroups(temporalServer.address, scratchDb.name),
    });
    const ids: string[] = [];
    const [realP1, baseP1] = await alternateRounds(
      ROUNDS,
      N,
      CONCURRENCY,
      async () => {
        const { body } = await postPayment(30);
        ids.push(body.id);
      },
      async () => void (await bareExecute(randomUUID())),
      { cpu },
    );
    clearInterval(sampler);
    const finalCount = await countFinal(sql, ids);
    const realTps = (N / realP1.wallMs) * 1000;
    const baseTps = (N / baseP1.wallMs) * 1000;

    // P2: start latency, then latency to the outcome, at concurrency 10. Each round starts from an
    // idle system: the runs a start round left in flight finish first, so the next figure measures
    // one request's path rather than a backlog's length.
    log(`P2: ${LATENCY_N} starts at concurrency 10 per path, in ${ROUNDS} alternating rounds`);
    const startedIds: string[] = [];
    const bareStarted: { result(): Promise<unknown> }[] = [];
    const drain = async () => void (await Promise.all([waitUntilFinal(sql, startedIds), ...bareStarted.map((h) => h.result())]));
    const [realStart, baseStart] = await alternateRounds(
      ROUNDS,
      LATENCY_N,
      10,
      async () => void startedIds.push((await postPayment(0)).body.id),
      async () => void bareStarted.push(await bareStart(randomUUID())),
      { between: drain },
    );
    log(`P2: ${LATENCY_N} requests to the outcome at concurrency 10 per path, in ${ROUNDS} alternating rounds`);
    const [realOutcome, baseOutcome] = await alternateRounds(
      ROUNDS,
      LATENCY_N,
      10,
      async () => void (await postPayment(10)),
      async () => void (await bareExecute(randomUUID())),
    );

    // P5: webhook ingest (verify, store, signal) against a bare HTTP handler (insert plus signal).
    log(`P5: ${WEBHOOKS} signed webhooks at concurrency 10 per path, in ${ROUNDS} alternating rounds`);
    const pendingPayments = await createPendingPayments(10, postPayment, sql);
    const waiting = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.workflow.start<typeof bareWaitingWorkflow>('bareWaitingWorkflow', { taskQueue: baselineQueue, workflowId: `bare-waiting-${i}-${randomUUID()}` })),
    );
    const [realHooks, baseHooks] = await alternateRounds(
      ROUNDS,
      WEBHOOKS,
      10,
      async (i) => {
        const target = pendingPayments[i % pendingPayments.length]!;
        await sendPendingpayWebhook(apiUrl, merchant.pendingpayId, pending.callbackSecret, target);
      },
      // The baseline is received over HTTP as well (a bare node:http handler: one INSERT, one signal).
      async (i) => {
        const handle = waiting[i % waiting.length]!;
        const res = await fetch(`http://127.0.0.1:${API_PORT + 1}/hooks/${encodeURIComponent(handle.workflowId)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `evt_${randomUUID()}`, status: 'pending' }),
        });
        if (res.status !== 200) throw new Error(`baseline webhook answered ${res.status}: ${await res.text()}`);
      },
      { cpu },
    );
    await Promise.all(waiting.map((h) => h.signal(bareCallbackSignal, { eventId: 'end', status: 'final' })));
    const realHooksPerSec = (WEBHOOKS / realHooks.wallMs) * 1000;
    const baseHooksPerSec = (WEBHOOKS / baseHooks.wallMs) * 1000;

    // History shape of one payment against the baseline's.
    const realHistory = await historyShape(client, `payment-${ids[0]}`);
    const baseHistory = await historyShape(client, (await bareStartAndWait(client, baselineQueue)).workflowId);

    const p = (s: Summary) => `p50 ${s.p50} / p99 ${s.p99} ms`;
    const rows: Row[] = [
      row('P1 completed payments/s', realTps, baseTps, 'higher', 0.7, (x) => `${x.toFixed(1)}/s`),
      row('P2 POST ?wait=0 p99 (ms)', summarize(realStart.durations).p99, summarize(baseStart.durations).p99, 'lower', 1.2, (x) => `${x} ms`),
      row('P2 POST ?wait=10 p99 to outcome (ms)', summarize(realOutcome.durations).p99, summarize(baseOutcome.durations).p99, 'lower', 1.5, (x) => `${x} ms`),
      row('P5 webhook ingest/s', realHooksPerSec, baseHooksPerSec, 'higher', 0.8, (x) => `${x.toFixed(1)}/s`),
      row('history events per payment', realHistory.events, baseHistory.events, 'info', 0, String),
      row('activities per payment', realHistory.activities, baseHistory.activities, 'info', 0, String),
    ];
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      parameters: { payments: N, concurrency: CONCURRENCY, latencyRequests: LATENCY_N, webhooks: WEBHOOKS, rounds: ROUNDS },
      durationSeconds: 0,
      rows,
      details: {
        p1: {
          switchyardWallMs: Math.round(realP1.wallMs),
          baselineWallMs: Math.round(baseP1.wallMs),
          finalPayments: finalCount,
          perPayment: { switchyard: summarize(realP1.durations), baseline: summarize(baseP1.durations) },
          cpuMsPerPayment: { switchyard: cpuMsPer(realP1.cpuSeconds, N), baseline: cpuMsPer(baseP1.cpuSeconds, N) },
        },
        p2: { start: { switchyard: summarize(realStart.durations), baseline: summarize(baseStart.durations) }, outcome: { switchyard: summarize(realOutcome.durations), baseline: summarize(baseOutcome.durations) } },
        p5: {
          switchyard: summarize(realHooks.durations),
          baseline: summarize(baseHooks.durations),
          cpuMsPerWebhook: { switchyard: cpuMsPer(realHooks.cpuSeconds, WEBHOOKS), baseline: cpuMsPer(baseHooks.cpuSeconds, WEBHOOKS) },
        },
        history: { switchyard: realHistory, baseline: baseHistory },
        rssMb: { idle, underLoadPeak: rssPeak },
      },
    };
    report.durationSeconds = Math.round((Date.now() - started) / 1000);
    printReport(report.rows, report.details, p);
    const file = writeBenchResult(undefined, report);
    log(`wrote ${file} (${report.durationSeconds} s in all)`);
    if (finalCount !== N) throw new Error(`only ${finalCount} of ${N} P1 payments reached a final status`);
  } finally {
    await Promise.all(processes.map((proc) => proc.stop()));
    await connection.close();
    await Promise.all([acme.close(), pending.close()]);
    await temporalServer.stop();
    await sql.end();
    await scratchDb.drop();
  }
}

function row(measure: string, real: number, base: number, better: 'higher' | 'lower' | 'info', goal: number, fmt: (x: number) => string): Row {
  const ratio = Math.round((real / base) * 100) / 100;
  const met = better === 'higher' ? ratio >= goal : better === 'lower' ? ratio <= goal : true;
  const goalText = better === 'higher' ? `>= ${goal}x` : better === 'lower' ? `<= ${goal}x` : '';
  return { measure, switchyard: fmt(real), baseline: fmt(base), ratio, goal: goalText, met };
}

function printReport(
  rows: Row[],
  details: {
    rssMb: unknown;
    p1: { cpuMsPerPayment: unknown };
    p2: { start: Record<string, Summary>; outcome: Record<string, Summary> };
    p5: { cpuMsPerWebhook: unknown };
  },
  p: (s: Summary) => string,
): void {
  const header = ['measure', 'Switchyard', 'bare Temporal', 'ratio', 'goal', ''];
  const lines = rows.map((r) => [r.measure, r.switchyard, r.baseline, `${r.ratio}x`, r.goal, r.goal ? (r.met ? 'met' : 'NOT met') : '']);
  console.log(`\n${markdownTable(header, lines)}`);
  console.log(`\nstart latency: Switchyard ${p(details.p2.start.switchyard!)}, baseline ${p(details.p2.start.baseline!)}`);
  console.log(`outcome latency: Switchyard ${p(details.p2.outcome.switchyard!)}, baseline ${p(details.p2.outcome.baseline!)}`);
  console.log(`P1 CPU ms per payment, by process: ${JSON.stringify(details.p1.cpuMsPerPayment)}`);
  console.log(`P5 CPU ms per webhook, by process: ${JSON.stringify(details.p5.cpuMsPerWebhook)}`);
  console.log(`RSS (MB): ${JSON.stringify(details.rssMb)}\n`);
}

/** Payments left pending at PendingPay (its callbacks are held back), for the webhook measure. */
async function createPendingPayments(
  count: number,
  post: (wait: number, overrides?: Record<string, unknown>) => Promise<{ body: { id: string } }>,
  sql: postgres.Sql,
): Promise<{ paymentId: string; reference: string }[]> {
  const ids = await Promise.all(Array.from({ length: count }, async () => (await post(0, { paymentMethod: { type: 'bank_transfer', token: 'ba_test_ok' } })).body.id));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await sql<{ payment_id: string; gateway_reference: string }[]>`
      select payment_id, gateway_reference from payment_attempts where payment_id in ${sql(ids)} and gateway_reference is not null`;
    if (rows.length === count) return rows.map((r) => ({ paymentId: r.payment_id, reference: r.gateway_reference }));
    if (Date.now() > deadline) throw new Error(`only ${rows.length} of ${count} PendingPay payments got a gateway reference`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A callback as PendingPay signs it (HMAC-SHA256 over `timestamp.body`, hex), still `pending`. */
async function sendPendingpayWebhook(apiUrl: string, connectionId: string, secret: string, target: { paymentId: string; reference: string }): Promise<void> {
  const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'txn.pending', created: Math.floor(Date.now() / 1000), data: { txn: { ref: target.reference, status: 'pending', metadata: { payment_id: target.paymentId } } } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const res = await fetch(`${apiUrl}/v1/webhooks/${connectionId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pending-signature': createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex'), 'x-pending-timestamp': timestamp },
    body,
  });
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
}

async function bareStartAndWait(client: Client, taskQueue: string) {
  const handle = await client.workflow.start<typeof bareChargeWorkflow>('bareChargeWorkflow', { taskQueue, workflowId: `bare-history-${randomUUID()}`, args: [{ id: randomUUID(), amount: 1050 }] });
  await handle.result();
  return handle;
}

async function historyShape(client: Client, workflowId: string): Promise<{ events: number; activities: number; localActivities: number }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  return {
    events: events.length,
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    localActivities: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
  };
}

// `npm run bench -- <name>` runs another benchmark instead of the payments one (see usage below).
const benchmarks: Record<string, () => Promise<void>> = {
  'erp-csv': () => import('./erp-csv.js').then((m) => m.runErpCsvBench()),
  chaos: () => import('./chaos.js').then((m) => m.runChaosBench(process.argv.slice(3))),
  customers: () => import('./customers.js').then((m) => m.runCustomersBench()),
  compare: () => import('./compare.js').then((m) => m.runCompareBench(process.argv.slice(3))),
  isolation: () => import('./isolation.js').then((m) => m.runIsolationBench()),
  events: () => import('./events.js').then((m) => m.runEventsBench()),
};
const usage = async () =>
  console.log(`npm run bench                 payments against bare Temporal (BENCH_PAYMENTS, BENCH_CONCURRENCY, BENCH_LATENCY_REQUESTS, BENCH_WEBHOOKS, BENCH_ROUNDS)
npm run bench -- erp-csv      the ERP CSV pipeline (BENCH_CSV_ROWS)
npm run bench -- customers    customer sync latency both ways and the initial import (BENCH_CUSTOMER_RATES, BENCH_CUSTOMER_SECONDS, BENCH_IMPORT_N)
npm run bench -- compare <ref> [<ref2>]
                              the payment path of this working tree (or <ref2>) against <ref>, side by side in one run (npm run bench -- compare --help)
npm run bench -- chaos ...    load with gateway faults and a worker SIGKILL (npm run bench -- chaos --help)
npm run bench -- isolation    one tenant's payment p95 alone and while another floods: a hanging gateway, ERP polling (BENCH_ISOLATION_SECONDS, BENCH_ROUNDS, BENCH_ISOLATION_A_RATE, BENCH_ISOLATION_B_RATE, BENCH_ISOLATION_INTEGRATIONS, BENCH_ISOLATION_POLL_SECONDS, BENCH_ISOLATION_WORKERS)
npm run bench -- events       events committed at a steady rate to a local webhook receiver against a plain insert-and-signed-POST loop: delivered/s and commit-to-arrival p95 (BENCH_EVENT_RATE, BENCH_EVENT_SECONDS, BENCH_EVENT_HOT_RESOURCES, BENCH_EVENT_DRAIN_SECONDS, BENCH_ROUNDS)`);
function pick(arg: string | undefined): () => Promise<void> {
  if (arg === '--help' || arg === '-h') return usage;
  if (arg === undefined) return main;
  return benchmarks[arg] ?? (() => Promise.reject(new Error(`unknown benchmark "${arg}" (npm run bench -- --help)`)));
}
pick(process.argv[2])().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
