/**
 * `npm run bench -- events`: events delivered to a merchant's webhook endpoint, per second and from
 * the state change's commit to the receiver, against a bare baseline measured in the same run.
 *
 * - Switchyard: the worker as deployed (`worker` of docker-compose.yml: compiled, `node
 *   dist/workers/main.js`, its task queues including `events`, built at the start of every run), one
 *   Temporal dev server, a scratch database; one tenant with one webhook endpoint (`payment.*`, full
 *   payloads) at a local receiver. The bench commits state changes at a fixed rate, each a transaction
 *   of its own: one insert into a bench table and `recordEvent` for it. The worker's relay fans each
 *   out, a delivery workflow per (endpoint, resource) sends it, signed, through the egress guard.
 * - Baseline: a plain loop at the same rate, per event one insert into the same bench table and one
 *   POST to the same receiver, signed with the `standardwebhooks` package.
 * - The receiver (node:http, in this process) verifies every request with `standardwebhooks` and
 *   keeps the first arrival time of each webhook-id; the latency of an event is that time minus the
 *   time its commit returned, both read from this process's clock.
 * - Two workloads: every event on a resource of its own (a delivery workflow started per event),
 *   and a few hot resources (BENCH_EVENT_HOT_RESOURCES, 0 skips it: each resource's workflow sends its
 *   events one after the other, in order). Each against the baseline, in alternating rounds
 *   (BENCH_ROUNDS): BENCH_EVENT_RATE events a second for BENCH_EVENT_SECONDS per side, split over the
 *   rounds; a round ends when its last event has arrived (at most BENCH_EVENT_DRAIN_SECONDS later).
 * - Delivered per second: a round's events over the time from its first send to its last arrival.
 *   Goals (issue #19): p95 under 1 s at 100 events/s; throughput at least 0.7x the baseline's.
 * - Where Switchyard's time goes, from the database and Temporal's visibility: commit to the relay's
 *   pass, the pass (fan-out rows, signal-with-start, mark), workflow start to the POST, the POST to
 *   the arrival; and the CPU each process used per event.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { connectPostgres, rowsOf, type Database } from '../src/db/client.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { CredentialCipher } from '../src/secrets/credential-cipher.js';
import { workflowId } from '../src/shared/workflow-ids.js';
import { recordEvent } from '../src/stores/events/event-store.js';
import { createWebhookEndpoint, newEndpointSecret } from '../src/stores/events/webhook-endpoint-store.js';
import { DEFAULT_TENANT_QUOTAS } from '../src/stores/platform/quota-store.js';
import { createTenant } from '../src/stores/platform/tenant-store.js';
import { buildDist, composeWorker, cpuMeter, sharedProcessGroups, startProcess, type BenchProcess } from './lib/processes.js';
import { scratchDatabase, switchyardSettings } from './lib/environment.js';
import { markdownTable, writeBenchResult } from './lib/results.js';
import { alternateRounds, atRate, cpuMsPer, summarize, type CpuSeconds, type Summary } from './lib/stats.js';

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** The run's size from BENCH_* settings; a value out of range stops the bench with its name. */
function settingsFrom(env: Record<string, string | undefined>) {
  const setting = (name: string, fallback: number, opts: { whole?: boolean; min: number }) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isFinite(value) || value < opts.min || (opts.whole && !Number.isInteger(value)))
      throw new Error(`${name} must be ${opts.whole ? 'a whole number' : 'a number'} of ${opts.min} or more, not "${env[name]}"`);
    return value;
  };
  return {
    rate: setting('BENCH_EVENT_RATE', 100, { min: 0.1 }),
    seconds: setting('BENCH_EVENT_SECONDS', 20, { min: 1 }),
    rounds: setting('BENCH_ROUNDS', 2, { whole: true, min: 1 }),
    hotResources: setting('BENCH_EVENT_HOT_RESOURCES', 10, { whole: true, min: 0 }),
    drainSeconds: setting('BENCH_EVENT_DRAIN_SECONDS', 300, { min: 1 }),
  };
}

/** Goals of issue #19. */
const P95_GOAL_MS = 1000;
const THROUGHPUT_GOAL = 0.7;

/** The state an event carries: about the size of a payment as GET /v1/payments/:id shows it. */
function paymentState(id: string, n: number): Record<string, unknown> {
  return {
    id,
    object: 'payment',
    status: 'succeeded',
    amount: 1050 + (n % 100),
    currency: 'EUR',
    captureMethod: 'automatic',
    paymentMethod: { type: 'card', last4: '4242', brand: 'visa' },
    customerId: null,
    description: `bench order ${n}`,
    metadata: { orderId: `ord_${n}` },
    attempts: [{ gateway: 'acmepay', status: 'succeeded', gatewayReference: `acme_${n}` }],
    createdAt: new Date().toISOString(),
  };
}

/**
 * The merchant's receiver: one path per side, each verified with its own secret by the
 * standardwebhooks package; keeps the first arrival (ms, this process's clock) of each webhook-id,
 * and, for Switchyard's path, each resource's sequences in arrival order (its promise of order).
 */
const SWITCHYARD_PATH = '/switchyard';
const BASELINE_PATH = '/baseline';

async function startReceiver() {
  const verifiers = new Map<string, Webhook>();
  const arrivals = new Map<string, number>();
  const sequences = new Map<string, number[]>();
  const counts = { refused: 0, repeats: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: { resource: { id: string }; sequence: number };
      try {
        const verifier = verifiers.get(req.url ?? '');
        if (!verifier) throw new Error(`no secret for ${req.url}`);
        body = verifier.verify(raw, req.headers as Record<string, string>) as typeof body;
      } catch {
        counts.refused += 1;
        res.writeHead(400, { 'content-type': 'text/plain' }).end('signature not verified');
        return;
      }
      const id = String(req.headers['webhook-id']);
      if (arrivals.has(id)) counts.repeats += 1;
      else {
        arrivals.set(id, at);
        if (req.url === SWITCHYARD_PATH) sequences.set(body.resource.id, [...(sequences.get(body.resource.id) ?? []), body.sequence]);
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    /** Requests to `path` must verify with `secret` (until then they are refused). */
    trust(path: string, secret: string): void {
      verifiers.set(path, new Webhook(secret));
    },
    arrivals,
    counts,
    /** Resources whose sequences did not arrive in increasing order. */
    outOfOrder: () => [...sequences.values()].filter((s) => s.some((n, i) => i > 0 && n <= s[i - 1]!)).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** One round of one side: its events' ids with their commit times, and how long until the last arrived. */
interface Round {
  committed: Map<string, number>;
  startedAt: number;
  /** Time from the first send to the last arrival (to the drain deadline when some never arrived). */
  windowMs: number;
  latencies: number[];
  missing: number;
}

/**
 * Sends `count` events at `rate` through `send` (which resolves with the webhook-id and its commit
 * time), then waits until every one has arrived at the receiver, or `drainMs` after the last send.
 */
async function runRound(
  receiver: Receiver,
  count: number,
  rate: number,
  drainMs: number,
  send: (i: number) => Promise<{ id: string; committedAt: number }>,
): Promise<Round> {
  const committed = new Map<string, number>();
  const startedAt = Date.now();
  await atRate(count, rate, async (i) => {
    const { id, committedAt } = await send(i);
    committed.set(id, committedAt);
  });
  const deadline = Date.now() + drainMs;
  const ids = [...committed.keys()];
  let pending = ids;
  while (pending.length > 0 && Date.now() < deadline) {
    await sleep(50);
    pending = pending.filter((id) => !receiver.arrivals.has(id));
  }
  const arrived = ids.filter((id) => receiver.arrivals.has(id));
  const last = arrived.reduce((at, id) => Math.max(at, receiver.arrivals.get(id)!), startedAt);
  return {
    committed,
    startedAt,
    windowMs: (pending.length > 0 ? deadline : last) - startedAt,
    latencies: arrived.map((id) => receiver.arrivals.get(id)! - committed.get(id)!),
    missing: pending.length,
  };
}

/** A side's rounds pooled: delivered per second over the summed windows, latency percentiles. */
function pooled(rounds: Round[], cpuSeconds: CpuSeconds) {
  const delivered = rounds.reduce((n, r) => n + r.latencies.length, 0);
  const sent = rounds.reduce((n, r) => n + r.committed.size, 0);
  const windowMs = rounds.reduce((ms, r) => ms + r.windowMs, 0);
  return {
    sent,
    delivered,
    missing: sent - delivered,
    deliveredPerSecond: Math.round((delivered / windowMs) * 1000 * 10) / 10,
    perRound: rounds.map((r) => Math.round((r.latencies.length / r.windowMs) * 1000 * 10) / 10),
    latencyMs: summarize(rounds.flatMap((r) => r.latencies)),
    cpuMsPerEvent: cpuMsPer(cpuSeconds, sent),
    cpuMsPerEventAll: Math.round((Object.values(cpuSeconds).reduce((a, b) => a + b, 0) / sent) * 1000 * 10) / 10,
  };
}
type Pooled = ReturnType<typeof pooled>;

/** A protobuf timestamp of a history event in ms. */
function msOf(ts: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined): number {
  const seconds = ts?.seconds ?? 0;
  return (typeof seconds === 'number' ? seconds : seconds.toNumber()) * 1000 + (ts?.nanos ?? 0) / 1e6;
}

/**
 * What the delivery workflows' histories say, up to `until` (a distinct resource's run ends on a
 * timer two minutes later, under another load): how long workflow and activity tasks waited in
 * their task queues for the worker, how long each ran, and history events per delivery. An activity
 * is split at its delivery's POST (the attempt's time in the database, the arrival at the receiver):
 * what it did before the POST (read the delivery, open the secret, sign) and after the arrival
 * (read the answer, record the attempt, complete the task).
 */
async function historyStages(
  temporal: Client,
  runs: { workflowId: string; runId: string }[],
  posts: Map<string, { postMs: number; arrivalMs: number }[]>,
  until: number,
) {
  const waits = {
    workflowTaskQueued: [] as number[],
    workflowTaskRun: [] as number[],
    activityQueued: [] as number[],
    activityRun: [] as number[],
    activityStartToPost: [] as number[],
    arrivalToActivityEnd: [] as number[],
  };
  let events = 0;
  for (const run of runs) {
    const history = await temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const at = new Map<number, number>();
    for (const e of history.events ?? []) {
      const t = msOf(e.eventTime);
      if (t > until) break;
      at.set(Number(e.eventId), t);
      events += 1;
      const since = (id: unknown) => t - at.get(Number(id))!;
      if (e.workflowTaskStartedEventAttributes) waits.workflowTaskQueued.push(since(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (e.workflowTaskCompletedEventAttributes) waits.workflowTaskRun.push(since(e.workflowTaskCompletedEventAttributes.startedEventId));
      if (e.activityTaskStartedEventAttributes) waits.activityQueued.push(since(e.activityTaskStartedEventAttributes.scheduledEventId));
      const completed = e.activityTaskCompletedEventAttributes;
      if (completed) {
        waits.activityRun.push(since(completed.startedEventId));
        const startedAt = at.get(Number(completed.startedEventId))!;
        const post = posts.get(run.workflowId)?.find((p) => p.postMs >= startedAt && p.arrivalMs <= t);
        if (post) {
          waits.activityStartToPost.push(post.postMs - startedAt);
          waits.arrivalToActivityEnd.push(t - post.arrivalMs);
        }
      }
    }
  }
  return {
    runsRead: runs.length,
    historyEventsPerDelivery: Math.round((events / Math.max(1, waits.activityRun.length)) * 10) / 10,
    workflowTasksPerDelivery: Math.round((waits.workflowTaskRun.length / Math.max(1, waits.activityRun.length)) * 10) / 10,
    ...Object.fromEntries(Object.entries(waits).map(([k, v]) => [k, summarize(v)])),
  } as { runsRead: number; historyEventsPerDelivery: number; workflowTasksPerDelivery: number } & Record<keyof typeof waits, Summary>;
}

/** Delivery workflow runs sampled for their histories (every run of a hot resource). */
const HISTORY_SAMPLE = 40;

/**
 * Where Switchyard's time went, per event (ms), from the database (delivery rows are created by the
 * relay's claim, `fanned_out_at` is set when its pass has signalled), Temporal's visibility (each
 * delivery workflow's start) and the workflows' histories; see the README for how to read it.
 */
async function stagesOf(db: Database['db'], temporal: Client, endpointId: string, rounds: Round[], receiver: Receiver, resources: Set<string>, distinct: boolean) {
  const committed = new Map(rounds.flatMap((r) => [...r.committed]));
  const rows = rowsOf<{ id: string; resource_id: string; claimed_ms: number; fanned_out_ms: number | null; attempt_ms: number | null; attempts: number }>(
    await db.execute(sql`
      select e.id, e.resource_id,
        extract(epoch from d.created_at) * 1000 as claimed_ms,
        extract(epoch from e.fanned_out_at) * 1000 as fanned_out_ms,
        (select extract(epoch from min(a.attempted_at)) * 1000 from webhook_delivery_attempts a where a.delivery_id = d.id) as attempt_ms,
        (select count(*)::int from webhook_delivery_attempts a where a.delivery_id = d.id) as attempts
      from webhook_deliveries d join events e on e.id = d.event_id
      where d.endpoint_id = ${endpointId}`),
  ).filter((r) => committed.has(r.id));
  const runs: { workflowId: string; runId: string; startTime: number }[] = [];
  const wanted = new Set([...resources].map((id) => workflowId.webhookDelivery(endpointId, 'payment', id)));
  for await (const wf of temporal.workflow.list({ query: `EndpointId = '${endpointId}'` })) {
    if (wanted.has(wf.workflowId)) runs.push({ workflowId: wf.workflowId, runId: wf.runId, startTime: wf.startTime.getTime() });
  }
  const started = new Map(runs.map((r) => [r.workflowId, r.startTime]));
  const stage = (f: (r: (typeof rows)[number], commit: number) => number | undefined) =>
    summarize(
      rows.flatMap((r) => {
        const v = f(r, committed.get(r.id)!);
        return v === undefined || Number.isNaN(v) ? [] : [v];
      }),
    );
  const startOf = (r: (typeof rows)[number]) => started.get(workflowId.webhookDelivery(endpointId, 'payment', r.resource_id));
  const passes = new Map<number, number>();
  for (const r of rows) passes.set(Number(r.claimed_ms), (passes.get(Number(r.claimed_ms)) ?? 0) + 1);
  const lastArrival = Math.max(...rows.map((r) => receiver.arrivals.get(r.id) ?? 0));
  const posts = new Map<string, { postMs: number; arrivalMs: number }[]>();
  for (const r of rows) {
    if (r.attempt_ms === null) continue;
    const id = workflowId.webhookDelivery(endpointId, 'payment', r.resource_id);
    posts.set(id, [...(posts.get(id) ?? []), { postMs: Number(r.attempt_ms), arrivalMs: receiver.arrivals.get(r.id)! }]);
  }
  const sample = distinct ? runs.filter((_, i) => i % Math.max(1, Math.floor(runs.length / HISTORY_SAMPLE)) === 0).slice(0, HISTORY_SAMPLE) : runs;
  return {
    stages: {
      'commit → the relay claims it': stage((r, c) => Number(r.claimed_ms) - c),
      "the relay's pass (rows, signals, mark)": stage((r) => (r.fanned_out_ms === null ? undefined : Number(r.fanned_out_ms) - Number(r.claimed_ms))),
      ...(distinct
        ? {
            'commit → its workflow started': stage((r, c) => (startOf(r) === undefined ? undefined : startOf(r)! - c)),
            'workflow started → POST begins': stage((r) => (startOf(r) === undefined || r.attempt_ms === null ? undefined : Number(r.attempt_ms) - startOf(r)!)),
          }
        : { 'pass done → POST begins': stage((r) => (r.attempt_ms === null || r.fanned_out_ms === null ? undefined : Number(r.attempt_ms) - Number(r.fanned_out_ms))) }),
      'POST begins → arrival': stage((r) => (r.attempt_ms === null ? undefined : receiver.arrivals.get(r.id)! - Number(r.attempt_ms))),
      'events per relay pass': summarize([...passes.values()]),
    } as Record<string, Summary>,
    attemptsPastFirst: rows.reduce((n, r) => n + Math.max(0, Number(r.attempts) - 1), 0),
    temporal: await historyStages(temporal, sample, posts, lastArrival),
  };
}

interface Row {
  measure: string;
  switchyard: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: string;
}

function rowsOfWorkload(name: string, real: Pooled, base: Pooled): Row[] {
  const ratio = (a: number, b: number) => `${a / b >= 10 ? (a / b).toFixed(0) : (a / b).toFixed(2)}x`;
  const throughputRatio = real.deliveredPerSecond / base.deliveredPerSecond;
  const ms = (x: number) => `${x} ms`;
  const latency = (p: 'p50' | 'p95' | 'p99'): Row => ({
    measure: `${name}: ${p} commit → arrival`,
    switchyard: ms(real.latencyMs[p]),
    baseline: ms(base.latencyMs[p]),
    ratio: ratio(real.latencyMs[p], base.latencyMs[p]),
    goal: p === 'p95' ? `< ${P95_GOAL_MS} ms` : '',
    met: p !== 'p95' ? '' : real.latencyMs.p95 < P95_GOAL_MS && real.missing === 0 ? 'met' : 'NOT met',
  });
  return [
    {
      measure: `${name}: delivered/s`,
      switchyard: `${real.deliveredPerSecond}/s (${real.delivered} of ${real.sent})`,
      baseline: `${base.deliveredPerSecond}/s (${base.delivered} of ${base.sent})`,
      ratio: ratio(real.deliveredPerSecond, base.deliveredPerSecond),
      goal: `>= ${THROUGHPUT_GOAL}x`,
      met: throughputRatio >= THROUGHPUT_GOAL && real.missing === 0 ? 'met' : 'NOT met',
    },
    latency('p50'),
    latency('p95'),
    latency('p99'),
    {
      measure: `${name}: CPU per event, all processes`,
      switchyard: ms(real.cpuMsPerEventAll),
      baseline: ms(base.cpuMsPerEventAll),
      ratio: ratio(real.cpuMsPerEventAll, base.cpuMsPerEventAll),
      goal: '',
      met: '',
    },
  ];
}

export async function runEventsBench(): Promise<void> {
  const settings = settingsFrom(process.env);
  const { rate, seconds, rounds, hotResources, drainSeconds } = settings;
  const started = Date.now();
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 10) / 10);
  log(`load average ${loadAtStart.join(' ')}; npm run build (the worker runs dist/, built from this checkout now)`);
  log(`built in ${buildDist().toFixed(0)} s`);
  const scratchDb = await scratchDatabase(`switchyard_bench_events_${process.pid}`);
  log('starting the Temporal dev server, the receiver and the worker (docker-compose.yml `worker`)');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const receiver = await startReceiver();
  const processes: BenchProcess[] = [];
  let database: Database | undefined;
  let connection: Connection | undefined;
  try {
    const { env: common } = switchyardSettings({ databaseUrl: scratchDb.url, temporalAddress: temporalServer.address, taskQueueSuffix: 'bench' });
    const deployed = composeWorker('worker');
    if (!deployed.env.WORKER_TASK_QUEUES?.split(',').includes('events')) throw new Error('the `worker` of docker-compose.yml does not serve the events task queue');
    // The worker migrates the scratch database at start, before it says it is running.
    const worker = await startProcess('worker', 'dist/workers/main.js', { ...common, ...deployed.env, LOG_LEVEL: 'info' }, /worker running/, undefined, deployed.nodeArgs);
    processes.push(worker);
    connection = await Connection.connect({ address: temporalServer.address });
    const temporal = new Client({ connection });
    database = connectPostgres(scratchDb.url, { poolSize: 20 });
    const { db } = database;
    await db.execute(sql`create table bench_state_changes (id text primary key, resource_id text not null, created_at timestamptz not null default now())`);

    // The merchant, through the stores the API uses; the receiver checks each side with its own secret.
    const [keyId, key] = common.CREDENTIALS_KEYS!.split(':') as [string, string];
    const { tenant } = await createTenant(db, { name: 'Bench events merchant' });
    const { row: endpoint, secret } = await createWebhookEndpoint(
      db,
      { cipher: new CredentialCipher([{ id: keyId, key: Buffer.from(key, 'base64') }]), urlPolicy: { allowPrivateNetworks: true }, quotas: DEFAULT_TENANT_QUOTAS },
      { tenantId: tenant.id, actor: { type: 'admin' } },
      { url: receiver.url(SWITCHYARD_PATH), eventTypes: ['payment.*'], payloadStyle: 'full' },
    );
    receiver.trust(SWITCHYARD_PATH, secret);
    const baselineSecret = newEndpointSecret();
    receiver.trust(BASELINE_PATH, baselineSecret);
    const baselineUrl = receiver.url(BASELINE_PATH);
    const baselineSigner = new Webhook(baselineSecret);

    /** A state change and its event in one transaction, as Switchyard's own changes are written. */
    const commitEvent = async (resourceId: string, n: number) => {
      const event = await db.transaction(async (tx) => {
        await tx.execute(sql`insert into bench_state_changes (id, resource_id) values (${randomUUID()}, ${resourceId})`);
        return recordEvent(tx, { tenantId: tenant.id, type: 'payment.succeeded', resource: { type: 'payment', id: resourceId }, data: paymentState(resourceId, n) });
      });
      return { id: event.id, committedAt: Date.now() };
    };
    /** The baseline: the same insert on its own, then one signed POST straight to the receiver. */
    const insertAndPost = async (resourceId: string, n: number) => {
      const id = `msg_${randomUUID()}`;
      await db.execute(sql`insert into bench_state_changes (id, resource_id) values (${id}, ${resourceId})`);
      const committedAt = Date.now();
      const at = new Date();
      const body = JSON.stringify({ id, type: 'payment.succeeded', created_at: at.toISOString(), sequence: 1, resource: { type: 'payment', id: resourceId }, data: paymentState(resourceId, n) });
      const res = await fetch(baselineUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': baselineSigner.sign(id, at, body) },
        body,
      });
      await res.text();
      if (!res.ok) throw new Error(`the receiver answered the baseline ${res.status}`);
      return { id, committedAt };
    };

    const total = Math.round(rate * seconds);
    const perRound = (r: number) => Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);
    const drainMs = drainSeconds * 1000;
    log('warming up both sides (2 s each)');
    await runRound(receiver, Math.ceil(rate * 2), rate, drainMs, (i) => commitEvent(`pay_warm_${i}`, i));
    await runRound(receiver, Math.ceil(rate * 2), rate, drainMs, (i) => insertAndPost(`pay_warm_${i}`, i));

    const cpu = cpuMeter({ worker: () => [worker.child.pid!], ...sharedProcessGroups(temporalServer.address, scratchDb.name) });
    const workloads = [
      { name: 'distinct resources', distinct: true, resource: (round: number, i: number) => `pay_d${round}_${i}` },
      ...(hotResources > 0 ? [{ name: `${hotResources} hot resources`, distinct: false, resource: (_round: number, i: number) => `pay_hot_${i % hotResources}` }] : []),
    ];
    const results = [];
    for (const workload of workloads) {
      log(`${workload.name}: ${rate} events/s for ${seconds} s per side, in ${rounds} alternating rounds`);
      const real: Round[] = [];
      const base: Round[] = [];
      const [realSide, baseSide] = await alternateRounds(
        rounds,
        rounds,
        1,
        async (r) => {
          real.push(await runRound(receiver, perRound(r), rate, drainMs, (i) => commitEvent(workload.resource(r, i), i)));
          log(`  Switchyard round ${r + 1}: p95 ${summarize(real.at(-1)!.latencies).p95} ms, ${real.at(-1)!.missing} missing`);
        },
        async (r) => {
          base.push(await runRound(receiver, perRound(r), rate, drainMs, (i) => insertAndPost(workload.resource(r, i), i)));
        },
        { cpu },
      );
      const switchyard = pooled(real, realSide.cpuSeconds);
      const baseline = pooled(base, baseSide.cpuSeconds);
      const resources = new Set(Array.from({ length: rounds }, (_, r) => Array.from({ length: perRound(r) }, (_, i) => workload.resource(r, i))).flat());
      const stages = await stagesOf(db, temporal, endpoint.id, real, receiver, resources, workload.distinct);
      results.push({ workload: workload.name, switchyard, baseline, stages });
    }

    const rows = results.flatMap((r) => rowsOfWorkload(r.workload, r.switchyard, r.baseline));
    const loadAtEnd = os.loadavg().map((l) => Math.round(l * 10) / 10);
    console.log(`\n${markdownTable(['measure', 'Switchyard', 'baseline', 'ratio', 'goal', 'met'], rows.map((r) => [r.measure, r.switchyard, r.baseline, r.ratio, r.goal, r.met]))}`);
    const ms = (x: Summary) => [`${x.p50}`, `${x.p95}`, `${x.max}`, `${x.n}`];
    for (const r of results) {
      const t = r.stages.temporal;
      console.log(`\n${r.workload}: where Switchyard's time goes (ms; Temporal's rows from ${t.runsRead} delivery workflow runs, ${t.historyEventsPerDelivery} history events and ${t.workflowTasksPerDelivery} workflow tasks per delivery)`);
      const lines = [
        ...Object.entries(r.stages.stages).map(([stage, x]) => [stage, ...ms(x)]),
        ['workflow task waits for the worker', ...ms(t.workflowTaskQueued)],
        ['workflow task runs', ...ms(t.workflowTaskRun)],
        ['activity task waits for the worker', ...ms(t.activityQueued)],
        ['activity runs', ...ms(t.activityRun)],
        ['  of which: activity starts → POST begins', ...ms(t.activityStartToPost)],
        ['  of which: arrival → activity completed', ...ms(t.arrivalToActivityEnd)],
      ];
      console.log(markdownTable(['stage', 'p50', 'p95', 'max', 'n'], lines));
      console.log(`attempts past the first: ${r.stages.attemptsPastFirst}; CPU ms per event by process: Switchyard ${JSON.stringify(r.switchyard.cpuMsPerEvent)}, baseline ${JSON.stringify(r.baseline.cpuMsPerEvent)}`);
    }
    console.log(`\nreceiver: ${receiver.counts.refused} refused, ${receiver.counts.repeats} repeats, ${receiver.outOfOrder()} resources out of order; load average ${loadAtStart.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end\n`);
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: { start: loadAtStart, end: loadAtEnd } },
      parameters: settings,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      rows,
      workloads: results,
      receiver: { ...receiver.counts, resourcesOutOfOrder: receiver.outOfOrder() },
    };
    log(`wrote ${writeBenchResult('events', report)} (${report.durationSeconds} s in all)`);
    if (receiver.counts.refused > 0 || receiver.outOfOrder() > 0)
      throw new Error(`${receiver.counts.refused} requests failed verification, ${receiver.outOfOrder()} resources arrived out of order`);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await connection?.close();
    await database?.close();
    await receiver.close();
    await temporalServer.stop();
    await scratchDb.drop();
  }
}
