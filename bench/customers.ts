/**
 * `npm run bench -- customers`: customer sync with the Stripe emulator, the API
 * and the worker as separate, compiled processes (`node dist/...`, built at the start of every run)
 * on one dev server and one Postgres.
 *
 * - Latency local → Stripe: from sending POST /v1/customers to the emulator receiving the create
 *   (its request log), at 10 and 100 changes/s.
 * - Latency Stripe → local: from the create at the emulator to the local row's created_at (the
 *   webhook, verified, stored and signalled, then applied by the entity workflow), at 10 and 100/s.
 * - Initial import of N Stripe customers (backfill when sync is turned on), in rows/s, against a raw
 *   baseline measured in the same run: the official SDK listing 100 a page and inserting each page in
 *   one statement.
 * - Baseline, at the same rates in the same run: the least an entity workflow per customer could do
 *   (bench/baseline): signal-with-start per change, one local activity with one insert and one create
 *   at the same emulated Stripe. Latency from the signal to the create at the emulator. Switchyard's
 *   local → Stripe round is compared with it: achieved rate and p95 as ratios.
 * The bench connections set maxRequestsPerSecond 1000, so the per-connection throttle does not cap
 * what is measured. Small shared machine: compare the figures of one run, not across runs.
 * Each latency round also reports its throughput (changes over the time from the first send to the
 * last arrival) and the CPU each process used per change (Linux /proc): at a rate the machine cannot
 * keep up with, the latency only measures the backlog, and the CPU figures say where the time goes.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Client, Connection } from '@temporalio/client';
import Stripe from 'stripe';
import { startStripeEmulator } from '../emulators/stripe/index.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { buildDist, cpuMeter, sharedProcessGroups, startBaselineWorker, startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase, switchyardSettings } from './lib/environment.js';
import { atRate, summarize, type Summary } from './lib/stats.js';

/** Empty: no latency rounds (the import only). */
const RATES = (process.env.BENCH_CUSTOMER_RATES ?? '10,100').split(',').filter(Boolean).map(Number);
const SECONDS = Number(process.env.BENCH_CUSTOMER_SECONDS ?? 5);
const IMPORT_N = Number(process.env.BENCH_IMPORT_N ?? 10_000);
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3951);

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function runCustomersBench(): Promise<void> {
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  log('npm run build (API and worker run dist/, as in production, built from this checkout now)');
  log(`built in ${buildDist().toFixed(0)} s`);
  const scratchDb = await scratchDatabase(`switchyard_bench_customers_${process.pid}`);
  const dbName = scratchDb.name;
  const databaseUrl = scratchDb.url;
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });

  log('starting the Temporal dev server and the Stripe emulator');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const stripe = await startStripeEmulator({ webhookRetryBaseMs: 100 });
  const processes: BenchProcess[] = [];
  let temporalConnectionRef: Connection | undefined;
  try {
    const { adminToken, env: common } = switchyardSettings({
      databaseUrl,
      temporalAddress: temporalServer.address,
      taskQueueSuffix: 'bench',
      extra: { STRIPE_API_URL: stripe.url },
    });
    const baselineQueue = 'bench-baseline-customers';
    const baselineKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
    await sql`create table bench_baseline_pushes (id text primary key, version int not null, created_at timestamptz not null default now())`;
    log('starting the worker, the API and the baseline worker as separate processes');
    processes.push(
      await startProcess('worker', 'dist/workers/main.js', { ...common, LOG_LEVEL: 'info' }, /worker running/),
    );
    processes.push(
      await startProcess(
        'api',
        'dist/api/main.js',
        { ...common, ADMIN_TOKEN: adminToken, PORT: String(API_PORT), LOG_LEVEL: 'info' },
        /api listening/,
      ),
    );
    const baselineWorker = await startBaselineWorker({
      databaseUrl,
      temporalAddress: temporalServer.address,
      taskQueue: baselineQueue,
      stripe: { url: stripe.url, authorization: `Bearer ${baselineKey}` },
    });
    processes.push(baselineWorker);
    temporalConnectionRef = await Connection.connect({ address: temporalServer.address });
    const temporal = new Client({ connection: temporalConnectionRef });
    const apiUrl = `http://127.0.0.1:${API_PORT}`;
    const call = async <T>(
      token: string,
      method: string,
      route: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<T> => {
      const res = await fetch(`${apiUrl}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.json()) as T;
      if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${JSON.stringify(json)}`);
      return json;
    };
    const sdkFor = (key: string) =>
      new Stripe(key, {
        host: '127.0.0.1',
        port: stripe.port,
        protocol: 'http',
        maxNetworkRetries: 0,
        telemetry: false,
      });

    /** A tenant whose own emulated Stripe account syncs customers (webhooks to the API). */
    const syncTenant = async (name: string, enabled: boolean) => {
      const { apiKey, tenant } = await call<{ apiKey: string; tenant: { id: string } }>(
        adminToken,
        'POST',
        '/v1/tenants',
        { name },
      );
      const secretKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
      const sdk = sdkFor(secretKey);
      const settings = { customerSync: { enabled, maxRequestsPerSecond: 1000 } };
      const conn = await call<{ id: string }>(apiKey, 'POST', '/v1/connections', {
        provider: 'stripe',
        code: 'stripe',
        name: 'Stripe',
        credentials: { secretKey },
        settings,
      });
      const endpoint = await sdk.webhookEndpoints.create({
        url: `${apiUrl}/v1/webhooks/${conn.id}`,
        enabled_events: ['customer.created', 'customer.updated', 'customer.deleted'],
      });
      await call(apiKey, 'PATCH', `/v1/connections/${conn.id}`, {
        credentials: { secretKey, webhookSecret: endpoint.secret },
      });
      return { apiKey, tenantId: tenant.id, connectionId: conn.id, secretKey, sdk };
    };

    const latency: {
      direction: string;
      rate: number;
      n: number;
      summary: Summary;
      perSecond: number;
      cpuMsPerChange: Record<string, number>;
    }[] = [];
    const [worker, api] = processes;
    const cpu = cpuMeter({
      worker: () => [worker!.child.pid!],
      api: () => [api!.child.pid!],
      'baseline worker': () => [baselineWorker.child.pid!],
      ...sharedProcessGroups(temporalServer.address, dbName),
    });
    const record = (
      direction: string,
      rate: number,
      n: number,
      latenciesMs: number[],
      firstSent: number,
      lastArrival: number,
      cpuSeconds: Record<string, number>,
    ) =>
      latency.push({
        direction,
        rate,
        n,
        summary: summarize(latenciesMs),
        perSecond: Math.round((n / (lastArrival - firstSent)) * 1000 * 10) / 10,
        cpuMsPerChange: Object.fromEntries(
          Object.entries(cpuSeconds).map(([k, v]) => [k, Math.round((v / n) * 1000 * 10) / 10]),
        ),
      });
    // A first round at 10/s warms both processes up (workflow caches, connection pools); it is not reported.
    const rounds = RATES.length > 0 ? [[10, false] as const, ...RATES.map((r) => [r, true] as const)] : [];
    for (const [rate, keep] of rounds) {
      const n = keep ? Math.round(rate * SECONDS) : 20;
      if (!keep) log('warming up');
      const t = await syncTenant(`Bench latency ${rate}/s`, true);
      await sleep(2000); // the connect backfill of an empty account

      log(`baseline: ${n} signal-with-starts at ${rate}/s`);
      const signalled = new Map<string, number>();
      cpu.start();
      const baselineStart = Date.now();
      await atRate(n, rate, async (i) => {
        const id = `bare-${rate}-${i}-${randomUUID().slice(0, 8)}`;
        const t0 = Date.now();
        await temporal.workflow.signalWithStart('bareCustomerWorkflow', {
          workflowId: id,
          taskQueue: baselineQueue,
          args: [{ id }],
          signal: 'bareCustomerChange',
          signalArgs: [{ version: 1 }],
        });
        signalled.set(id, t0);
      });
      const baselineArrivals = await until('every baseline create at Stripe', async () => {
        const creates = stripe
          .requests()
          .filter((r) => r.account === baselineKey && r.method === 'POST' && r.path === '/v1/customers' && r.status === 200);
        const byId = new Map(creates.map((r) => [r.idempotencyKey?.split('-v')[0] ?? '', Date.parse(r.at)]));
        return [...signalled.keys()].every((id) => byId.has(id)) ? byId : undefined;
      });
      const baselineCpu = cpu.stop();
      if (keep)
        record(
          'baseline: signal-with-start → Stripe',
          rate,
          n,
          [...signalled].map(([id, t0]) => baselineArrivals.get(id)! - t0),
          baselineStart,
          Math.max(...[...signalled.keys()].map((id) => baselineArrivals.get(id)!)),
          baselineCpu,
        );
      await sleep(2000);

      log(`local → Stripe: ${n} creates at ${rate}/s`);
      const sent = new Map<string, number>();
      cpu.start();
      const localStart = Date.now();
      await atRate(n, rate, async (i) => {
        const t0 = Date.now();
        const c = await call<{ id: string }>(
          t.apiKey,
          'POST',
          '/v1/customers',
          { email: `l${rate}-${i}@bench.test`, name: `Local ${i}` },
          { 'idempotency-key': randomUUID() },
        );
        sent.set(c.id, t0);
      });
      const arrivals = await until('every create at Stripe', async () => {
        const creates = stripe
          .requests()
          .filter(
            (r) =>
              r.account === t.secretKey &&
              r.method === 'POST' &&
              r.path === '/v1/customers' &&
              r.status === 200,
          );
        const byCustomer = new Map(
          creates.map((r) => [r.idempotencyKey?.split('-v')[0] ?? '', Date.parse(r.at)]),
        );
        return [...sent.keys()].every((id) => byCustomer.has(id)) ? byCustomer : undefined;
      });
      // The echoes of these creates (webhooks the API acknowledges without a signal) are part of their cost.
      await stripe.webhooksIdle();
      const localCpu = cpu.stop();
      if (keep) {
        const latencies = [...sent].map(([id, t0]) => arrivals.get(id)! - t0);
        record(
          'local → Stripe',
          rate,
          n,
          latencies,
          localStart,
          Math.max(...[...sent.keys()].map((id) => arrivals.get(id)!)),
          localCpu,
        );
      }
      await sleep(2000);

      log(`Stripe → local: ${n} creates at the emulator at ${rate}/s`);
      const made = new Map<string, number>();
      cpu.start();
      const remoteStart = Date.now();
      await atRate(n, rate, async (i) => {
        const email = `r${rate}-${i}@bench.test`;
        const t0 = Date.now();
        await t.sdk.customers.create({ email, name: `Remote ${i}` });
        made.set(email, t0);
      });
      const rows = await until('every local row', async () => {
        const found = await sql<
          { email: string; created_at: Date }[]
        >`select email, created_at from customers where tenant_id = ${t.tenantId} and email like ${`r${rate}-%`}`;
        return found.length >= n ? found : undefined;
      });
      const remoteCpu = cpu.stop();
      if (keep) {
        const latencies = rows.map((r) => r.created_at.getTime() - made.get(r.email)!);
        record(
          'Stripe → local',
          rate,
          n,
          latencies,
          remoteStart,
          Math.max(...rows.map((r) => r.created_at.getTime())),
          remoteCpu,
        );
      }
    }

    log(`import: seeding ${IMPORT_N} customers in two emulated accounts`);
    const imp = await syncTenant('Bench import', false);
    const baseKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
    const baseSdk = sdkFor(baseKey);
    // Straight into the emulator's store (no requests, no events): 100,000 take seconds, not 15 minutes.
    for (const [key, prefix] of [
      [imp.secretKey, 'imp'],
      [baseKey, 'base'],
    ] as const) {
      stripe.seedCustomers(
        key,
        Array.from({ length: IMPORT_N }, (_, i) => ({
          email: `${prefix}${i}@bench.test`,
          name: `Imported ${i}`,
          metadata: { n: String(i) },
        })),
      );
    }

    log('import: raw baseline (SDK list 100 a page, one insert per page)');
    await sql`create table bench_baseline_customers (id text primary key, email text, name text, metadata jsonb)`;
    const b0 = Date.now();
    let page = await baseSdk.customers.list({ limit: 100 });
    for (;;) {
      await sql`insert into bench_baseline_customers ${sql(page.data.map((c) => ({ id: c.id, email: c.email, name: c.name, metadata: sql.json(c.metadata) })))}`;
      if (!page.has_more) break;
      page = await baseSdk.customers.list({ limit: 100, starting_after: page.data.at(-1)!.id });
    }
    const baselineMs = Date.now() - b0;

    log('import: Switchyard backfill (turning sync on)');
    const s0 = Date.now();
    await call(imp.apiKey, 'PATCH', `/v1/connections/${imp.connectionId}`, {
      settings: { customerSync: { enabled: true, maxRequestsPerSecond: 1000 } },
    });
    const run = await until('the backfill', async () => {
      const [r] = await sql<
        { status: string; finished_at: Date | null; imported: number }[]
      >`select status, finished_at, imported from customer_sync_runs where connection_id = ${imp.connectionId} and trigger = 'connect'`;
      return r && r.status !== 'running' ? r : undefined;
    });
    const switchyardMs = run.finished_at!.getTime() - s0;
    const [counted] = await sql<
      { n: number }[]
    >`select count(*)::int as n from customers where tenant_id = ${imp.tenantId}`;
    const localRows = counted?.n ?? 0;

    const ratios = RATES.map((rate) => {
      const real = latency.find((l) => l.rate === rate && l.direction === 'local → Stripe');
      const base = latency.find((l) => l.rate === rate && l.direction.startsWith('baseline'));
      if (!real || !base) return null;
      return {
        changesPerSecond: rate,
        // Switchyard's local → Stripe against the bare entity workflow, in the same run.
        achievedRate: Math.round((real.perSecond / base.perSecond) * 100) / 100,
        p95: Math.round((real.summary.p95 / base.summary.p95) * 100) / 100,
      };
    }).filter((r) => r !== null);
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 1e9) },
      // 1/5/15-minute load averages: the figures follow the machine's load (other work shares the cores).
      loadAverage: { start: loadAtStart, end: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      latency: latency.map((l) => ({
        direction: l.direction,
        changesPerSecond: l.rate,
        n: l.n,
        p50Ms: l.summary.p50,
        p95Ms: l.summary.p95,
        maxMs: l.summary.max,
        // Changes per second actually carried (first send to last arrival), and CPU per change by process.
        achievedPerSecond: l.perSecond,
        cpuMsPerChange: l.cpuMsPerChange,
      })),
      versusBaseline: ratios,
      import: {
        n: IMPORT_N,
        switchyard: {
          status: run.status,
          imported: run.imported,
          localRows,
          ms: switchyardMs,
          rowsPerSecond: Math.round((IMPORT_N / switchyardMs) * 1000),
        },
        baseline: { ms: baselineMs, rowsPerSecond: Math.round((IMPORT_N / baselineMs) * 1000) },
      },
    };
    console.log(JSON.stringify(report, null, 2));
    const dir = path.join('bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, `customers-${report.date.slice(0, 10)}.json`),
      `${JSON.stringify(report, null, 2)}\n`,
    );
  } finally {
    for (const p of processes.reverse()) await p.stop();
    await temporalConnectionRef?.close();
    await stripe.close();
    await temporalServer.stop();
    await sql.end();
    await scratchDb.drop();
  }
}
