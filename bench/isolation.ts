/**
 * `npm run bench -- isolation`: one tenant's payments while another tenant floods the shared workers.
 * Tenant A sends card payments at a steady modest rate (BENCH_ISOLATION_A_RATE a second, open loop,
 * for BENCH_ISOLATION_SECONDS) to a fast emulated gateway, each timed from the POST to its final
 * status (`?wait=30`, then polling). Phases in one run, alternating so load that comes and goes on
 * this small shared machine falls on both: A alone, A + a hanging neighbour, A alone, A + an
 * ERP-polling neighbour (BENCH_ROUNDS times). The figure is A's p95 with the neighbour against A's
 * p95 alone (all alone phases pooled); the goal is at most 1.5x.
 *
 * The neighbours, a fresh tenant B each phase, created through the public API like A:
 * - hanging: B's gateway (an AcmePay emulator in hanging mode) accepts every charge and never
 *   answers; B sends BENCH_ISOLATION_B_RATE payments a second (`?wait=0`), starting
 *   BENCH_ISOLATION_LEAD_SECONDS before A's window so its calls already hold what they can hold.
 * - ERP polling: B has BENCH_ISOLATION_INTEGRATIONS REST integrations against the emulated ERP
 *   (BENCH_ISOLATION_ERP_ROWS rows a stream, three streams each), polling every
 *   BENCH_ISOLATION_POLL_SECONDS (10); A's window
 *   starts BENCH_ISOLATION_LEAD_SECONDS after B's first poll.
 * Between phases B is drained: the flood stops and its gateway recovers (the hung payments resolve),
 * or its integrations are paused, and the next phase starts once B has nothing in flight.
 *
 * The per-tenant quotas would refuse these attacks (the API's rate limit per tenant, the count of ERP
 * integrations, the shortest poll interval): the run raises them in the processes' environment, so
 * what is measured is what fairness and the per-tenant cap on provider calls hold on their own.
 *
 * Production form: `npm run build` first, then the API and the two worker deployments of
 * docker-compose.yml (`worker`: payments, connections, customers; `worker-erp`: erp) as separate
 * `node dist/...` processes (BENCH_ISOLATION_WORKERS=one: a single worker serving every queue), one
 * Temporal dev server, one scratch Postgres database; the ERP emulator in a process of its own.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { startAcmepayEmulator, type AcmepayEmulator } from '../emulators/gateways/acmepay.js';
import { defterIntegration } from '../emulators/erp/integration.js';
import { callApi as call } from '../src/dev/api-call.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { workflowId } from '../src/shared/workflow-ids.js';
import { buildDist, composeWorker, cpuMeter, ROOT, sharedProcessGroups, startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase, switchyardSettings } from './lib/environment.js';
import { writeBenchResult } from './lib/results.js';
import { summarize, type CpuSeconds, type Summary } from './lib/stats.js';

const SECONDS = Number(process.env.BENCH_ISOLATION_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const A_RATE = Number(process.env.BENCH_ISOLATION_A_RATE ?? 5);
const B_RATE = Number(process.env.BENCH_ISOLATION_B_RATE ?? 20);
const LEAD_SECONDS = Number(process.env.BENCH_ISOLATION_LEAD_SECONDS ?? 10);
const INTEGRATIONS = Number(process.env.BENCH_ISOLATION_INTEGRATIONS ?? 100);
const ERP_ROWS = Number(process.env.BENCH_ISOLATION_ERP_ROWS ?? 300);
const DRAIN_SECONDS = Number(process.env.BENCH_ISOLATION_DRAIN_SECONDS ?? 300);
const WORKERS = process.env.BENCH_ISOLATION_WORKERS ?? 'compose';
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3960);
const ERP_PORT = API_PORT + 1;
const POLL_INTERVAL_SECONDS = Number(process.env.BENCH_ISOLATION_POLL_SECONDS ?? 10);
/** Streams each emulated-ERP integration schedules (products, prices, inventory). */
const STREAMS_PER_INTEGRATION = 3;
/** A's payment not final this long after its POST counts as not finished (and at this value in the percentiles). */
const DEADLINE_MS = 60_000;
const GOAL = 1.5;
const FINAL = ['succeeded', 'authorized', 'failed', 'canceled'];

/**
 * The quotas that would refuse the attacks, raised for this run only (names the quota settings have
 * or will have in src/config/env.ts; an unknown one is ignored). The fairness and the provider-call
 * cap being measured are left as configured.
 */
const ATTACK_ALLOWANCES: Record<string, string> = {
  RATE_LIMIT_PER_TENANT: '1000000',
  TENANT_MAX_ERP_INTEGRATIONS: String(Math.max(INTEGRATIONS, 100)),
  ERP_MIN_POLL_INTERVAL_SECONDS: String(Math.min(POLL_INTERVAL_SECONDS, 60)),
};

const log = (msg: string) => console.log(`[bench isolation ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type PhaseKind = 'alone' | 'hanging' | 'erp';
const PHASE_TITLE: Record<PhaseKind, string> = {
  alone: 'A alone',
  hanging: 'A + B hanging gateway',
  erp: `A + B ${INTEGRATIONS} ERP integrations polling every ${POLL_INTERVAL_SECONDS} s`,
};

/** A's payments of one phase. */
interface ATally {
  /** Milliseconds from the POST to the final status; a payment not final by the deadline counts at the deadline. */
  durations: number[];
  notFinished: number;
  /** Answers other than 200/202 and network errors: not in the durations. */
  errors: Record<string, number>;
  statuses: Record<string, number>;
}

/** What the neighbour did in one phase, read when A's window closed. */
interface BTally {
  /** Payments the API accepted (hanging) or ERP runs started (ERP polling) up to the end of A's window. */
  started: number;
  finished: number;
  inFlight: number;
  detail: Record<string, number>;
  /** Seconds from the end of A's window until B had nothing in flight; null: still busy at the drain deadline. */
  drainSeconds: number | null;
  /** B's runs still open at the drain deadline, terminated so the next phase starts without them. */
  terminatedAtDrainDeadline: number;
}

interface PhaseResult {
  kind: PhaseKind;
  round: number;
  a: Summary & { notFinished: number; errors: Record<string, number>; statuses: Record<string, number> };
  /** A's durations (ms), for the pooled figures. */
  aDurations: number[];
  b?: BTally;
  wallSeconds: number;
  cpuSeconds: CpuSeconds;
}

interface Tenant {
  id: string;
  apiKey: string;
}

export async function runIsolationBench(): Promise<void> {
  const started = Date.now();
  const commit = git(['rev-parse', '--short', 'HEAD']);
  // The build takes the working tree as it is: other people's uncommitted changes are measured too.
  const uncommitted = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  log(`commit ${commit}, ${uncommitted} uncommitted file(s) under src/; npm run build (the processes run dist/)`);
  log(`built in ${buildDist().toFixed(0)} s`);
  const scratchDb = await scratchDatabase(`switchyard_bench_isolation_${process.pid}`);
  const sql = postgres(scratchDb.url, { max: 4, onnotice: () => {} });
  log('starting the Temporal dev server and the emulated gateways');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const acmeA = await startAcmepayEmulator();
  // B's gateway: charges and status lookups hang while a hanging phase runs; /health answers.
  const acmeB = await startAcmepayEmulator();
  const processes: BenchProcess[] = [];
  const connection = await Connection.connect({ address: temporalServer.address });
  const client = new Client({ connection, namespace: temporalServer.namespace });
  const terminate = async (ids: string[]) => {
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).terminate('isolation bench: B not drained by the deadline').catch(() => undefined)));
    return ids.length;
  };

  try {
    const { adminToken, env: common } = switchyardSettings({
      databaseUrl: scratchDb.url,
      temporalAddress: temporalServer.address,
      taskQueueSuffix: 'isolation',
      extra: ATTACK_ALLOWANCES,
    });
    // `worker running` and `api listening` are info lines.
    const workerForms = WORKERS === 'one' ? { worker: { nodeArgs: [], env: {} } } : WORKERS === 'compose' ? { worker: composeWorker('worker'), 'worker-erp': composeWorker('worker-erp') } : undefined;
    if (!workerForms) throw new Error(`BENCH_ISOLATION_WORKERS must be compose or one, not ${WORKERS}`);
    const workers: BenchProcess[] = [];
    for (const [name, form] of Object.entries(workerForms)) {
      log(`starting ${name}: node ${[...form.nodeArgs, 'dist/workers/main.js'].join(' ')} ${JSON.stringify(form.env)}`);
      workers.push(await startProcess(name, 'dist/workers/main.js', { ...common, ...form.env, LOG_LEVEL: 'info' }, /worker running/, undefined, form.nodeArgs));
      processes.push(workers.at(-1)!);
    }
    const api = await startProcess('api', 'dist/api/main.js', { ...common, ADMIN_TOKEN: adminToken, PORT: String(API_PORT), LOG_LEVEL: 'info' }, /api listening/);
    processes.push(api);
    const erp = await startProcess('erp emulator', 'emulators/erp/main.ts', { PORT: String(ERP_PORT), ERP_SEED_COUNT: String(ERP_ROWS) }, /ERP emulator on/);
    processes.push(erp);
    const apiUrl = `http://127.0.0.1:${API_PORT}`;
    const erpUrl = `http://127.0.0.1:${ERP_PORT}`;
    const cpu = cpuMeter({
      api: () => [api.child.pid!],
      ...Object.fromEntries(workers.map((w) => [w.name, () => [w.child.pid!]])),
      'erp emulator': () => [erp.child.pid!],
      ...sharedProcessGroups(temporalServer.address, scratchDb.name),
    });

    const tenantA = await createTenant(apiUrl, adminToken, 'Tenant A (measured)');
    await connectCards(apiUrl, tenantA, acmeA);
    log('warming up A (20 payments)');
    await payments(apiUrl, tenantA, 20, 10);

    const kinds: PhaseKind[] = Array.from({ length: ROUNDS }, () => ['alone', 'hanging', 'alone', 'erp'] as const).flat();
    const phases: PhaseResult[] = [];
    for (const [i, kind] of kinds.entries()) {
      const round = Math.floor(i / 4) + 1;
      log(`phase ${i + 1}/${kinds.length}, round ${round}: ${PHASE_TITLE[kind]}`);
      const neighbour =
        kind === 'hanging'
          ? await hangingNeighbour(apiUrl, adminToken, sql, terminate, acmeB, `B hanging ${round}`)
          : kind === 'erp'
            ? await erpNeighbour(apiUrl, adminToken, sql, terminate, erpUrl, `B ERP ${round}`)
            : undefined;
      cpu.start();
      const t0 = performance.now();
      // B's arrivals stop with A's; A's payments still in flight then finish beside B's.
      const a = await payments(apiUrl, tenantA, Math.round(SECONDS * A_RATE), A_RATE, () => neighbour?.stopArrivals());
      const wallSeconds = (performance.now() - t0) / 1000;
      const cpuSeconds = Object.fromEntries(Object.entries(cpu.stop()).map(([k, v]) => [k, Math.round(v * 100) / 100]));
      const b = await neighbour?.drain();
      const phase: PhaseResult = { kind, round, a: { ...summarize(a.durations), notFinished: a.notFinished, errors: a.errors, statuses: a.statuses }, aDurations: a.durations.map(Math.round), ...(b ? { b } : {}), wallSeconds, cpuSeconds };
      phases.push(phase);
      log(`  A: n ${phase.a.n}, p50 ${phase.a.p50} ms, p95 ${phase.a.p95} ms, not finished ${phase.a.notFinished}${b ? `; B: ${b.started} started, ${b.finished} finished, ${b.inFlight} in flight, drained in ${b.drainSeconds ?? `more than ${DRAIN_SECONDS}`} s${b.terminatedAtDrainDeadline ? `, ${b.terminatedAtDrainDeadline} runs terminated` : ''}` : ''}`);
    }

    const pooled = (kind: PhaseKind) => {
      const of = phases.filter((p) => p.kind === kind);
      return { summary: summarizePhases(of), notFinished: of.reduce((n, p) => n + p.a.notFinished, 0) };
    };
    const alone = pooled('alone');
    const rows = (['hanging', 'erp'] as const).map((kind) => {
      const flooded = pooled(kind);
      const ratio = Math.round((flooded.summary.p95 / alone.summary.p95) * 100) / 100;
      return { neighbour: PHASE_TITLE[kind], aloneP95Ms: alone.summary.p95, withP95Ms: flooded.summary.p95, ratio, goal: `<= ${GOAL}x`, met: ratio <= GOAL };
    });
    const load = os.loadavg().map((l) => Number(l.toFixed(1)));
    const report = {
      date: new Date().toISOString(),
      commit,
      uncommittedSrcFiles: uncommitted,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverageAtEnd: load },
      parameters: { seconds: SECONDS, rounds: ROUNDS, aRate: A_RATE, bRate: B_RATE, leadSeconds: LEAD_SECONDS, integrations: INTEGRATIONS, pollIntervalSeconds: POLL_INTERVAL_SECONDS, erpRows: ERP_ROWS, deadlineMs: DEADLINE_MS, workers: WORKERS },
      quotasRaisedForTheAttack: ATTACK_ALLOWANCES,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      rows,
      aAlonePooled: alone,
      phases,
    };
    printReport(phases, rows, load);
    const file = writeBenchResult('isolation', report);
    log(`wrote ${file} (${report.durationSeconds} s in all)`);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await connection.close();
    await Promise.all([acmeA.close(), acmeB.close()]);
    await temporalServer.stop();
    await sql.end();
    await scratchDb.drop();
  }
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

/** The phases' A durations pooled. */
function summarizePhases(phases: PhaseResult[]): Summary {
  return summarize(phases.flatMap((p) => p.aDurations));
}

async function createTenant(apiUrl: string, adminToken: string, name: string): Promise<Tenant> {
  const created = await call<{ tenant: { id: string }; apiKey: string }>(apiUrl, adminToken, 'POST', '/v1/tenants', { name });
  return { id: created.tenant.id, apiKey: created.apiKey };
}

/** An AcmePay connection to `gateway` and one routing rule sending every card payment there. */
async function connectCards(apiUrl: string, tenant: Tenant, gateway: AcmepayEmulator): Promise<void> {
  const { id } = await call<{ id: string }>(apiUrl, tenant.apiKey, 'POST', '/v1/connections', {
    provider: 'acmepay',
    code: 'acme',
    name: 'AcmePay',
    credentials: { accountId: gateway.accountId, apiKey: gateway.apiKey },
    settings: { baseUrl: gateway.url },
  });
  await call(apiUrl, tenant.apiKey, 'PUT', '/v1/routing/rules', { rules: [{ name: 'cards', priority: 10, connectionIds: [id] }] });
}

function postPayment(apiUrl: string, tenant: Tenant, wait: number): Promise<Response> {
  return fetch(`${apiUrl}/v1/payments?wait=${wait}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ amount: 1050, currency: 'EUR', country: 'DE', paymentMethod: { type: 'card', token: 'tok_visa' } }),
  });
}

/**
 * Calls `task` `rate` times a second, open loop (a slow answer never slows the arrivals), until
 * `stop(i)` says so before the i-th call, then `afterArrivals`; resolves when every call has
 * settled. Tasks must not throw.
 */
async function openLoop(rate: number, stop: (i: number) => boolean, task: (i: number) => Promise<void>, afterArrivals?: () => void): Promise<void> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; !stop(i); i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    if (stop(i)) break;
    pending.push(task(i));
  }
  afterArrivals?.();
  await Promise.all(pending);
}

/** `count` payments of `tenant` at `rate` a second, each timed from its POST to its final status. */
async function payments(apiUrl: string, tenant: Tenant, count: number, rate: number, afterArrivals?: () => void): Promise<ATally> {
  const tally: ATally = { durations: [], notFinished: 0, errors: {}, statuses: {} };
  const bump = (into: Record<string, number>, key: string) => void (into[key] = (into[key] ?? 0) + 1);
  await openLoop(rate, (i) => i >= count, async () => {
    const t0 = performance.now();
    try {
      const res = await postPayment(apiUrl, tenant, 30);
      const body = (await res.json()) as { id?: string; status?: string; code?: string };
      if ((res.status !== 200 && res.status !== 202) || !body.id) return bump(tally.errors, `${res.status} ${body.code ?? ''}`.trim());
      let status = body.status ?? '';
      while (!FINAL.includes(status) && performance.now() - t0 < DEADLINE_MS) {
        await sleep(250);
        status = (await call<{ status: string }>(apiUrl, tenant.apiKey, 'GET', `/v1/payments/${body.id}`)).status;
      }
      bump(tally.statuses, status);
      if (FINAL.includes(status)) tally.durations.push(performance.now() - t0);
      else {
        tally.notFinished += 1;
        tally.durations.push(DEADLINE_MS);
      }
    } catch (err) {
      bump(tally.errors, err instanceof Error ? err.message.slice(0, 80) : String(err));
    }
  }, afterArrivals);
  return tally;
}

interface Neighbour {
  /** A's last payment is sent: B sends no more (its integrations keep polling until drained). */
  stopArrivals(): void;
  /** Counts what B did up to now, stops it, and waits until B has nothing in flight. */
  drain(): Promise<BTally>;
}

/** Terminates the Temporal runs of these workflow ids; resolves to how many. */
type Terminate = (workflowIds: string[]) => Promise<number>;

/** Waits until `idle()` holds twice in a row a second apart; the seconds it took, or null at the deadline. */
async function drained(idle: () => Promise<boolean>): Promise<number | null> {
  const t0 = performance.now();
  let streak = 0;
  while (performance.now() - t0 < DRAIN_SECONDS * 1000) {
    streak = (await idle()) ? streak + 1 : 0;
    if (streak === 2) return Math.round((performance.now() - t0) / 100) / 10;
    await sleep(1000);
  }
  return null;
}

/**
 * A fresh tenant B whose gateway hangs on every charge, sending payments at B_RATE from now until
 * stopped; resolves after LEAD_SECONDS of flood.
 */
async function hangingNeighbour(apiUrl: string, adminToken: string, sql: postgres.Sql, terminate: Terminate, gateway: AcmepayEmulator, name: string): Promise<Neighbour> {
  const tenant = await createTenant(apiUrl, adminToken, name);
  await connectCards(apiUrl, tenant, gateway);
  gateway.setHanging(true, { path: '/v1/payments' });
  let flooding = true;
  let accepted = 0;
  const refused: Record<string, number> = {};
  const flood = openLoop(B_RATE, () => !flooding, async () => {
    try {
      const res = await postPayment(apiUrl, tenant, 0);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 202) accepted += 1;
      else refused[`api ${res.status}`] = (refused[`api ${res.status}`] ?? 0) + 1;
    } catch {
      refused['network error'] = (refused['network error'] ?? 0) + 1;
    }
  });
  log(`  B (${tenant.id}) floods at ${B_RATE}/s into a hanging gateway; A starts in ${LEAD_SECONDS} s`);
  await sleep(LEAD_SECONDS * 1000);
  const byStatus = async () =>
    Object.fromEntries((await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from payments where tenant_id = ${tenant.id} group by status`).map((r) => [r.status, r.n]));
  return {
    stopArrivals: () => {
      flooding = false;
    },
    drain: async () => {
      await flood;
      const statuses = await byStatus();
      const finished = FINAL.reduce((n, s) => n + (statuses[s] ?? 0), 0);
      const total = Object.values(statuses).reduce((n, x) => n + x, 0);
      log(`  B stopped (${accepted} accepted); its gateway recovers, waiting for B's payments to finish`);
      gateway.setHanging(false);
      const drainSeconds = await drained(async () => {
        const now = await byStatus();
        return Object.entries(now).every(([s, n]) => FINAL.includes(s) || n === 0);
      });
      const open = await sql<{ id: string }[]>`select id from payments where tenant_id = ${tenant.id} and status not in ${sql(FINAL)}`;
      const terminatedAtDrainDeadline = drainSeconds === null ? await terminate(open.map((p) => workflowId.payment(p.id))) : 0;
      return { started: accepted, finished, inFlight: total - finished, detail: { ...statuses, ...refused }, drainSeconds, terminatedAtDrainDeadline };
    },
  };
}

/**
 * A fresh tenant B with INTEGRATIONS REST integrations against the emulated ERP, each polling its
 * three streams every POLL_INTERVAL_SECONDS; resolves LEAD_SECONDS after B's first poll.
 */
async function erpNeighbour(apiUrl: string, adminToken: string, sql: postgres.Sql, terminate: Terminate, erpUrl: string, name: string): Promise<Neighbour> {
  const tenant = await createTenant(apiUrl, adminToken, name);
  const ids: string[] = [];
  const t0 = performance.now();
  await openLoop(50, (i) => i >= INTEGRATIONS, async (i) => {
    const body = defterIntegration(erpUrl, 100, POLL_INTERVAL_SECONDS);
    ids.push((await call<{ id: string }>(apiUrl, tenant.apiKey, 'POST', '/v1/integrations', { ...body, name: `${body.name} ${i + 1}` })).id);
  });
  const schedules = INTEGRATIONS * STREAMS_PER_INTEGRATION;
  log(`  B (${tenant.id}): ${ids.length} integrations created in ${((performance.now() - t0) / 1000).toFixed(0)} s; A starts ${LEAD_SECONDS} s after B's first poll`);
  const runs = async () =>
    Object.fromEntries((await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from erp_runs where tenant_id = ${tenant.id} group by status`).map((r) => [r.status, r.n]));
  const firedOnce = async () => (await sql<{ n: number }[]>`select count(distinct (integration_id, entity))::int as n from erp_runs where tenant_id = ${tenant.id}`)[0]!.n;
  const deadline = performance.now() + 120_000;
  while ((await firedOnce()) === 0) {
    if (performance.now() > deadline) throw new Error(`none of B's ${schedules} ERP schedules fired within 120 s`);
    await sleep(500);
  }
  await sleep(LEAD_SECONDS * 1000);
  const before = await runs();
  const firedBeforeA = await firedOnce();
  return {
    stopArrivals: () => {},
    drain: async () => {
      const after = await runs();
      const firedByEndOfA = await firedOnce();
      const total = (r: Record<string, number>) => Object.values(r).reduce((n, x) => n + x, 0);
      const finished = (after['succeeded'] ?? 0) + (after['failed'] ?? 0);
      log(`  pausing B's ${ids.length} integrations, waiting for its runs to finish`);
      await openLoop(50, (i) => i >= ids.length, async (i) => void (await call(apiUrl, tenant.apiKey, 'POST', `/v1/integrations/${ids[i]}/pause`)));
      const drainSeconds = await drained(async () => ((await runs())['running'] ?? 0) === 0);
      const open = await sql<{ workflow_id: string }[]>`select workflow_id from erp_runs where tenant_id = ${tenant.id} and status = 'running'`;
      return {
        started: total(after),
        finished,
        inFlight: after['running'] ?? 0,
        // How far B's polling got: schedules with at least one run when A started and when it ended.
        detail: { ...after, startedDuringA: total(after) - total(before), schedules, firedBeforeA, firedByEndOfA },
        drainSeconds,
        terminatedAtDrainDeadline: drainSeconds === null ? await terminate(open.map((r) => r.workflow_id)) : 0,
      };
    },
  };
}

function printReport(phases: PhaseResult[], rows: { neighbour: string; aloneP95Ms: number; withP95Ms: number; ratio: number; goal: string; met: boolean }[], load: number[]): void {
  const table = (header: string[], lines: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(`${fmt(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const l of lines) console.log(fmt(l));
  };
  console.log(`\nTenant A's payments, POST to final status (ms), ${A_RATE}/s for ${SECONDS} s a phase; not finished = not final within ${DEADLINE_MS / 1000} s (counted at ${DEADLINE_MS / 1000} s)`);
  table(
    ['phase', 'A N', 'p50', 'p95', 'p99', 'max', 'not finished', 'A errors', 'B started', 'B finished', 'B in flight', 'B drained in'],
    phases.map((p) => [
      `${p.round}: ${PHASE_TITLE[p.kind]}`,
      String(p.a.n),
      String(p.a.p50),
      String(p.a.p95),
      String(p.a.p99),
      String(p.a.max),
      String(p.a.notFinished),
      String(Object.values(p.a.errors).reduce((n, x) => n + x, 0)),
      p.b ? String(p.b.started) : '',
      p.b ? String(p.b.finished) : '',
      p.b ? String(p.b.inFlight) : '',
      p.b ? (p.b.drainSeconds === null ? `> ${DRAIN_SECONDS} s, ${p.b.terminatedAtDrainDeadline} terminated` : `${p.b.drainSeconds} s`) : '',
    ]),
  );
  console.log(`\nA's p95 with the neighbour against A's p95 alone (alone phases pooled), same run`);
  table(
    ['neighbour', 'p95 alone', 'p95 with B', 'ratio', 'goal', ''],
    rows.map((r) => [r.neighbour, `${r.aloneP95Ms} ms`, `${r.withP95Ms} ms`, `${r.ratio}x`, r.goal, r.met ? 'met' : 'NOT met']),
  );
  console.log(
    `\nB counts: hanging, payments the API accepted up to the end of A's window, final by then, not final; ERP, poll runs started up to then (all rounds of its schedules), finished, running.` +
      `\nThe quotas that would refuse these attacks were raised for this run (${Object.entries(ATTACK_ALLOWANCES).map(([k, v]) => `${k}=${v}`).join(', ')}):` +
      `\nthe figures show what task-queue fairness and the per-tenant provider-call cap hold on their own.` +
      `\nCPU seconds by process per phase are in the JSON. Load average at the end: ${load.join(' ')} on ${os.cpus().length} cores (other work on the machine skews the figures).\n`,
  );
  for (const p of phases.filter((x) => Object.keys(x.a.errors).length > 0)) console.log(`A errors in ${p.round}: ${PHASE_TITLE[p.kind]}: ${JSON.stringify(p.a.errors)}`);
}
