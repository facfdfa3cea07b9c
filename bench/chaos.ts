/**
 * `npm run bench -- chaos`: load with faults. For `--duration` seconds, payments arrive at a steady
 * `--rate` (open loop: a slow answer never slows the arrivals), both emulated gateways answer
 * `--failure-rate` of their requests with 503, and in the middle the worker process is SIGKILLed and
 * started again (as an orchestrator would). Then every payment must reach a final status.
 *
 * Reported: API 5xx (expected 0), payments not final (expected 0), duplicate charges by the emulators'
 * own records (expected 0), money taken for a payment the read model calls failed (expected 0),
 * throughput, and p50/p99 of the API answer and of the time to the final status.
 *
 * The API and the worker are separate processes, as in production; the worker loads a workflow
 * bundle built once before the run, so its restart is a production restart (no webpack).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import postgres from 'postgres';
import { startAcmepayEmulator, type AcmepayEmulator } from '../emulators/gateways/acmepay.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { failureConverterPath } from '../src/temporal/payload-codec.js';
import { startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase, switchyardSettings } from './lib/environment.js';
import { writeBenchResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const FINAL = ['succeeded', 'authorized', 'failed', 'canceled'];
const log = (msg: string) => console.log(`[bench chaos ${new Date().toISOString().slice(11, 19)}] ${msg}`);

const USAGE = `npm run bench -- chaos [options]
  --duration <s>       seconds of arrivals (default 60)
  --rate <n>           payments per second (default 5)
  --failure-rate <x>   share of gateway requests answered 503, 0..1 (default 0.05)
  --kill-at <s>        when the worker is SIGKILLed, seconds into the run (default duration / 2)
  --settle <s>         how long to wait for every payment to be final afterwards (default 300)
  --api-port <port>    (default 3951)`;

interface ChaosOptions {
  durationS: number;
  rate: number;
  failureRate: number;
  killAtS: number;
  settleS: number;
  apiPort: number;
}

function parseOptions(argv: string[]): ChaosOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      'failure-rate': { type: 'string' },
      'kill-at': { type: 'string' },
      settle: { type: 'string' },
      'api-port': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const num = (name: string, raw: string | undefined, fallback: number, ok: (x: number) => boolean) => {
    const x = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(x) || !ok(x)) throw new Error(`--${name} ${raw}: out of range\n${USAGE}`);
    return x;
  };
  const durationS = num('duration', values.duration, 60, (x) => x >= 5 && x <= 3600);
  return {
    durationS,
    rate: num('rate', values.rate, 5, (x) => x > 0 && x <= 200),
    failureRate: num('failure-rate', values['failure-rate'], 0.05, (x) => x >= 0 && x <= 1),
    killAtS: num('kill-at', values['kill-at'], durationS / 2, (x) => x >= 0 && x < durationS),
    settleS: num('settle', values.settle, 300, (x) => x >= 10),
    apiPort: num('api-port', values['api-port'], 3951, (x) => Number.isInteger(x) && x > 0 && x < 65536),
  };
}

interface Submission {
  status: number | 'network_error';
  ms: number;
  paymentId?: string;
}

export async function runChaosBench(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) return;
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const scratchDb = await scratchDatabase(`switchyard_bench_chaos_${process.pid}`);
  const databaseUrl = scratchDb.url;
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'switchyard-chaos-'));

  log('bundling the workflows once (the restarted worker loads this bundle, as in production)');
  const bundlePath = path.join(scratch, 'workflow-bundle.js');
  const noop = () => {};
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.resolve('src/workflows/index.ts'),
    failureConverterPath,
    logger: { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop },
  });
  writeFileSync(bundlePath, code);

  log('starting the Temporal dev server and two emulated gateways');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const gateways = [await startAcmepayEmulator(), await startAcmepayEmulator()];
  const processes: BenchProcess[] = [];
  const stopAll = () => Promise.all(processes.map((p) => p.stop()));

  try {
    const { adminToken, env: common } = switchyardSettings({
      databaseUrl,
      temporalAddress: temporalServer.address,
      taskQueueSuffix: 'chaos',
      extra: { LOG_LEVEL: 'info' },
    });
    const workerEnv = { ...common, WORKFLOW_BUNDLE_PATH: bundlePath, LOG_LEVEL: 'warn' };
    // `worker running` is an info line: the worker's own level must let it through.
    const startWorker = (name: string) => startProcess(name, 'src/workers/main.ts', { ...workerEnv, LOG_LEVEL: 'info' }, /worker running/);
    let worker = await startWorker('worker');
    processes.push(worker);
    const api = await startProcess('api', 'src/api/main.ts', { ...common, ADMIN_TOKEN: adminToken, PORT: String(opts.apiPort) }, /api listening/);
    processes.push(api);
    const apiUrl = `http://127.0.0.1:${opts.apiPort}`;
    const apiKey = await setUpMerchant(apiUrl, adminToken, gateways);
    for (const g of gateways) g.setFailureRate(opts.failureRate, 503);

    const total = Math.round(opts.durationS * opts.rate);
    log(`${total} payments over ${opts.durationS} s (${opts.rate}/s), ${opts.failureRate * 100}% gateway 503s, worker SIGKILL at ${opts.killAtS} s`);
    const submissions: Submission[] = [];
    const inFlight: Promise<void>[] = [];
    const submit = async (): Promise<void> => {
      const t0 = performance.now();
      try {
        const res = await fetch(`${apiUrl}/v1/payments?wait=0`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ amount: 1050, currency: 'EUR', country: 'DE', paymentMethod: { type: 'card', token: 'tok_visa' } }),
        });
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        submissions.push({ status: res.status, ms: performance.now() - t0, ...(body.id ? { paymentId: body.id } : {}) });
      } catch {
        submissions.push({ status: 'network_error', ms: performance.now() - t0 });
      }
    };

    const kill = { atS: 0, restartMs: 0, killedPid: 0 };
    const arrivalsStart = performance.now();
    let killed: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      // Steady arrivals on a fixed schedule, independent of how long answers take.
      const due = arrivalsStart + (i * 1000) / opts.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!killed && performance.now() - arrivalsStart >= opts.killAtS * 1000) {
        killed = (async () => {
          kill.atS = Math.round((performance.now() - arrivalsStart) / 100) / 10;
          kill.killedPid = worker.child.pid ?? 0;
          log(`SIGKILL to the worker (pid ${kill.killedPid}) at ${kill.atS} s; starting a new one`);
          const gone = new Promise((r) => worker.child.once('exit', r));
          worker.child.kill('SIGKILL');
          await gone;
          const t0 = performance.now();
          worker = await startWorker('worker (restarted)');
          processes.push(worker);
          kill.restartMs = Math.round(performance.now() - t0);
          log(`new worker running after ${kill.restartMs} ms`);
        })();
      }
      inFlight.push(submit());
    }
    const arrivalsMs = performance.now() - arrivalsStart;
    await Promise.all(inFlight);
    await killed;
    const ids = submissions.flatMap((s) => (s.paymentId ? [s.paymentId] : []));

    log(`arrivals done in ${(arrivalsMs / 1000).toFixed(1)} s; waiting up to ${opts.settleS} s for ${ids.length} payments to be final`);
    const settleDeadline = Date.now() + opts.settleS * 1000;
    let notFinal = ids.length;
    while (ids.length > 0) {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from payments where id in ${sql(ids)} and status not in ${sql(FINAL)}`;
      const missing = ids.length - (await sql<{ n: number }[]>`select count(*)::int as n from payments where id in ${sql(ids)}`)[0]!.n;
      notFinal = row!.n + missing;
      if (notFinal === 0 || Date.now() > settleDeadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const settledMs = Date.now() - started;

    const rows = ids.length
      ? await sql<{ id: string; status: string; created: number; updated: number }[]>`
          select id, status, extract(epoch from created_at) * 1000 as created, extract(epoch from updated_at) * 1000 as updated
          from payments where id in ${sql(ids)}`
      : [];
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    const finalRows = rows.filter((r) => FINAL.includes(r.status));
    const timeToFinal = finalRows.map((r) => Number(r.updated) - Number(r.created));
    const firstCreated = Math.min(...rows.map((r) => Number(r.created)));
    const lastFinal = Math.max(...finalRows.map((r) => Number(r.updated)));
    const charges = chargeAudit(gateways, new Map(rows.map((r) => [r.id, r.status])));

    const http = { total: submissions.length, byStatus: {} as Record<string, number>, fiveXx: 0, networkErrors: 0 };
    for (const s of submissions) {
      http.byStatus[String(s.status)] = (http.byStatus[String(s.status)] ?? 0) + 1;
      if (s.status === 'network_error') http.networkErrors += 1;
      else if (s.status >= 500) http.fiveXx += 1;
    }
    const gatewayRequests = gateways.map((g) => g.requestLog().length);
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage1m: { atStart: Math.round(loadAtStart * 10) / 10, atEnd: Math.round(os.loadavg()[0]! * 10) / 10 } },
      parameters: { durationSeconds: opts.durationS, ratePerSecond: opts.rate, gatewayFailureRate: opts.failureRate, gateways: gateways.length, killAtSeconds: opts.killAtS },
      results: {
        api5xx: http.fiveXx,
        apiNetworkErrors: http.networkErrors,
        paymentsSubmitted: http.total,
        paymentsAccepted: ids.length,
        paymentsNotFinal: notFinal,
        duplicateCharges: charges.duplicatePayments,
        duplicateChargesPerReference: charges.duplicateReferences,
        chargedButNotSucceeded: charges.chargedButNotSucceeded,
        succeededWithoutCharge: charges.succeededWithoutCharge,
        paymentsByStatus: byStatus,
        throughputPerSecond: finalRows.length ? Math.round((finalRows.length / ((lastFinal - firstCreated) / 1000)) * 100) / 100 : 0,
        arrivalRateAchieved: Math.round((http.total / (arrivalsMs / 1000)) * 100) / 100,
        apiLatencyMs: summarize(submissions.map((s) => s.ms)),
        timeToFinalMs: summarize(timeToFinal),
        workerKill: kill,
        gatewayRequests,
        rssMb: { api: api.rssMb(), worker: worker.rssMb() },
      },
      durationSeconds: Math.round(settledMs / 1000),
    };
    printReport(report.results);
    const file = writeBenchResult('chaos', report);
    log(`wrote ${file} (${report.durationSeconds} s in all)`);
    const failures = [
      http.fiveXx > 0 && `${http.fiveXx} API 5xx answers`,
      http.networkErrors > 0 && `${http.networkErrors} requests got no answer`,
      notFinal > 0 && `${notFinal} payments not final after ${opts.settleS} s`,
      charges.duplicatePayments > 0 && `${charges.duplicatePayments} payments charged more than once`,
      charges.chargedButNotSucceeded > 0 && `${charges.chargedButNotSucceeded} payments charged but not succeeded`,
    ].filter(Boolean);
    if (failures.length > 0) throw new Error(`chaos run failed its expectations: ${failures.join('; ')}`);
  } finally {
    await stopAll();
    await Promise.all(gateways.map((g) => g.close()));
    await temporalServer.stop();
    await sql.end();
    await scratchDb.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What the gateways themselves recorded. A charge is a payment the emulator created and did not
 * decline; `metadata.payment_id` ties it to our payment across both gateways (a fallback that charged
 * on both would be a duplicate), `merchant_reference` is the idempotency key (the emulator's own
 * per-key counter catches a key charged twice).
 */
function chargeAudit(gateways: AcmepayEmulator[], statusById: Map<string, string>) {
  const perPayment = new Map<string, number>();
  let duplicateReferences = 0;
  for (const g of gateways) {
    const refs = new Set<string>();
    for (const p of g.payments()) {
      if (p.state === 'DECLINED') continue;
      const id = p.metadata['payment_id'] ?? '';
      perPayment.set(id, (perPayment.get(id) ?? 0) + 1);
      refs.add(p.merchant_reference);
    }
    for (const ref of refs) if (g.chargeCount(ref) > 1) duplicateReferences += 1;
  }
  let duplicatePayments = 0;
  let chargedButNotSucceeded = 0;
  for (const [id, n] of perPayment) {
    if (n > 1) duplicatePayments += 1;
    if (!['succeeded', 'authorized'].includes(statusById.get(id) ?? '')) chargedButNotSucceeded += 1;
  }
  let succeededWithoutCharge = 0;
  for (const [id, status] of statusById) if (status === 'succeeded' && !perPayment.has(id)) succeededWithoutCharge += 1;
  return { duplicatePayments, duplicateReferences, chargedButNotSucceeded, succeededWithoutCharge };
}

function printReport(r: {
  api5xx: number;
  apiNetworkErrors: number;
  paymentsSubmitted: number;
  paymentsNotFinal: number;
  duplicateCharges: number;
  chargedButNotSucceeded: number;
  paymentsByStatus: Record<string, number>;
  throughputPerSecond: number;
  arrivalRateAchieved: number;
  apiLatencyMs: { p50: number; p99: number };
  timeToFinalMs: { p50: number; p99: number; max: number };
  workerKill: { atS: number; restartMs: number };
}): void {
  const lines: [string, string, string][] = [
    ['API 5xx', String(r.api5xx), '0'],
    ['requests without an answer', String(r.apiNetworkErrors), '0'],
    ['payments not final', String(r.paymentsNotFinal), '0'],
    ['duplicate charges (emulators)', String(r.duplicateCharges), '0'],
    ['charged but not succeeded', String(r.chargedButNotSucceeded), '0'],
    ['payments submitted', String(r.paymentsSubmitted), ''],
    ['by status', JSON.stringify(r.paymentsByStatus), ''],
    ['arrival rate', `${r.arrivalRateAchieved}/s`, ''],
    ['throughput (final/s)', `${r.throughputPerSecond}/s`, ''],
    ['POST ?wait=0 p50 / p99', `${r.apiLatencyMs.p50} / ${r.apiLatencyMs.p99} ms`, ''],
    ['time to final p50 / p99 / max', `${r.timeToFinalMs.p50} / ${r.timeToFinalMs.p99} / ${r.timeToFinalMs.max} ms`, ''],
    ['worker SIGKILL at / restart took', `${r.workerKill.atS} s / ${r.workerKill.restartMs} ms`, ''],
  ];
  const w = [Math.max(...lines.map((l) => l[0].length)), Math.max(...lines.map((l) => l[1].length))];
  console.log('');
  for (const [a, b, want] of lines) console.log(`  ${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${want ? `(expected ${want})` : ''}`);
  console.log('');
}

async function setUpMerchant(apiUrl: string, adminToken: string, gateways: AcmepayEmulator[]): Promise<string> {
  const call = async <T>(token: string, method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${apiUrl}${route}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  const { apiKey } = await call<{ apiKey: string }>(adminToken, 'POST', '/v1/tenants', { name: 'Chaos merchant' });
  const connectionIds: string[] = [];
  for (const [i, g] of gateways.entries()) {
    const { id } = await call<{ id: string }>(apiKey, 'POST', '/v1/connections', {
      provider: 'acmepay',
      code: `acme-${i + 1}`,
      name: `AcmePay ${i + 1}`,
      credentials: { accountId: g.accountId, apiKey: g.apiKey },
      settings: { baseUrl: g.url },
    });
    connectionIds.push(id);
  }
  await call(apiKey, 'PUT', '/v1/routing/rules', { rules: [{ name: 'cards', priority: 10, connectionIds }] });
  return apiKey;
}
