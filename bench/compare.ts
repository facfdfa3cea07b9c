/**
 * `npm run bench -- compare <ref> [<ref2>]`: the payment path of this checkout (or of `ref2`)
 * against the same path at `ref`, side by side in one run, to show whether a change made it slower.
 *
 * Each side is its own compiled code (`ref` checked out and built in `.bench/worktrees/<sha>`; this
 * side built in place) with its own scratch database, migrated by that side's migrator, and its own
 * API and worker processes (distinct ports and task-queue suffixes). They share one Temporal dev
 * server and one emulated AcmePay gateway. The measures are those of `npm run bench`'s payment path:
 * payments to a final status at a fixed concurrency, and `POST ?wait=0` latency, in alternating
 * rounds (ref, this, ref, this …) so load that comes and goes on a shared machine falls on both.
 * Each measure is reported as this / ref, a regression when worse than BENCH_COMPARE_TOLERANCE.
 */
import os from 'node:os';
import postgres from 'postgres';
import { startAcmepayEmulator } from '../emulators/gateways/acmepay.js';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server.js';
import { committedTree, resolveCommit, workingTree, type CodeUnderTest } from './lib/code-under-test.js';
import { scratchDatabase, switchyardSettings, type ScratchDatabase } from './lib/environment.js';
import {
  countFinal,
  paymentPoster,
  paymentWorkloadFrom,
  payToFinal,
  setUpMerchant,
  waitUntilFinal,
} from './lib/payments.js';
import {
  cpuMeter,
  migrateWithDist,
  sharedProcessGroups,
  startProcess,
  type BenchProcess,
} from './lib/processes.js';
import { markdownTable, writeBenchResult } from './lib/results.js';
import { alternateRounds, cpuMsPer, runConcurrently, summarize, type Side } from './lib/stats.js';

const {
  payments: N,
  concurrency: CONCURRENCY,
  latencyRequests: LATENCY_N,
  rounds: ROUNDS,
} = paymentWorkloadFrom(process.env);
/** This side's API port; the ref's is the next one. */
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3960);
/** How much worse than the ref a measure may be before it is called a regression (0.1: 10%). */
const TOLERANCE = Number(process.env.BENCH_COMPARE_TOLERANCE ?? 0.1);

const log = (msg: string) => console.log(`[bench compare ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export const compareUsage = `npm run bench -- compare <ref> [<ref2>]
  The payment path of this working tree (or of <ref2>) against <ref>, each from its own build, database,
  API and worker, in alternating rounds; a measure worse than the tolerance is a regression.
  BENCH_PAYMENTS (500), BENCH_CONCURRENCY (20), BENCH_LATENCY_REQUESTS (200), BENCH_ROUNDS (2),
  BENCH_COMPARE_TOLERANCE (0.1: throughput below 0.9x or a p95 above 1.1x of the ref), BENCH_API_PORT (3960, and the next)`;

/** One side's code, running: its database, processes and merchant. */
interface RunningSide {
  name: 'this' | 'ref';
  code: CodeUnderTest;
  db: ScratchDatabase;
  sql: postgres.Sql;
  worker: BenchProcess;
  api: BenchProcess;
  apiUrl: string;
  apiKey: string;
}

/** A side's figure for one measure: pooled over its rounds, and each round's. */
interface Figure {
  value: number;
  n: number;
  rounds: number[];
  p50?: number;
  p99?: number;
}

interface Measure {
  measure: string;
  better: 'higher' | 'lower';
  this: Figure;
  ref: Figure;
  /** this / ref, two decimals. */
  ratio: number;
  /** The ratio past which the measure is a regression. */
  limit: number;
  regression: boolean;
}

export async function runCompareBench(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return void console.log(compareUsage);
  const [ref, thisRef, ...rest] = args;
  if (!ref || rest.length > 0) throw new Error(`compare takes one or two git refs\n${compareUsage}`);
  if (!(TOLERANCE > 0 && TOLERANCE < 1))
    throw new Error(
      `BENCH_COMPARE_TOLERANCE must be a fraction between 0 and 1 (e.g. 0.1), not ${process.env.BENCH_COMPARE_TOLERANCE}`,
    );
  // Both refs are resolved before anything is built, once: a ref that moves meanwhile (HEAD, a
  // branch other work commits to) does not change what is measured.
  const refSha = resolveCommit(ref);
  const thisSha = thisRef ? resolveCommit(thisRef) : undefined;

  const started = Date.now();
  const refCode = committedTree(ref, refSha, log);
  log(
    `ref ${ref} (${refCode.sha.slice(0, 10)}) built in ${refCode.buildSeconds.toFixed(0)} s, node_modules ${refCode.nodeModules}`,
  );
  const thisCode = thisRef && thisSha ? committedTree(thisRef, thisSha, log) : workingTree();
  log(`this side, ${describe(thisCode)}, built in ${thisCode.buildSeconds.toFixed(0)} s`);

  log('starting the Temporal dev server and the emulated gateway');
  const temporalServer = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI });
  const acme = await startAcmepayEmulator();
  const sides: RunningSide[] = [];
  try {
    for (const [name, code, port] of [
      ['ref', refCode, API_PORT + 1],
      ['this', thisCode, API_PORT],
    ] as const) {
      sides.push(await startSide(name, code, port, temporalServer.address, acme));
    }
    const [refSide, thisSide] = sides as [RunningSide, RunningSide];
    const post = new Map(sides.map((s) => [s, paymentPoster(s.apiUrl, s.apiKey)]));
    const toFinal = (side: RunningSide) => payToFinal(side.apiUrl, side.apiKey, post.get(side));

    log('warming up both sides (20 payments each)');
    for (const side of sides) await runConcurrently(20, 10, async () => void (await toFinal(side)));

    const cpu = cpuMeter({
      ...Object.fromEntries(
        sides.flatMap((s) => [
          [`${s.name} api`, () => [s.api.child.pid!]],
          [`${s.name} worker`, () => [s.worker.child.pid!]],
          [`${s.name} postgres`, sharedProcessGroups(temporalServer.address, s.db.name).postgres!],
        ]),
      ),
      temporalServer: sharedProcessGroups(temporalServer.address, refSide.db.name).temporalServer!,
      'bench (emulator, clients)': () => [process.pid],
    });
    log(
      `payments to a final status: ${N} per side at concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds (ref first)`,
    );
    const paid = new Map<RunningSide, string[]>(sides.map((s) => [s, []]));
    const pay = (side: RunningSide) => async () => void paid.get(side)!.push(await toFinal(side));
    const [refP1, thisP1] = await alternateRounds(ROUNDS, N, CONCURRENCY, pay(refSide), pay(thisSide), {
      cpu,
    });
    const finalCounts = {
      this: await countFinal(thisSide.sql, paid.get(thisSide)!),
      ref: await countFinal(refSide.sql, paid.get(refSide)!),
    };

    // Each round starts from an idle system: what a round started finishes before the next.
    log(`POST ?wait=0 latency: ${LATENCY_N} per side at concurrency 10, ${ROUNDS} alternating rounds`);
    const startedIds = new Map<RunningSide, string[]>(sides.map((s) => [s, []]));
    const start = (side: RunningSide) => async () =>
      void startedIds.get(side)!.push((await post.get(side)!(0)).body.id);
    const drain = async () =>
      void (await Promise.all(sides.map((s) => waitUntilFinal(s.sql, startedIds.get(s)!))));
    const [refStart, thisStart] = await alternateRounds(
      ROUNDS,
      LATENCY_N,
      10,
      start(refSide),
      start(thisSide),
      { between: drain },
    );

    const measures = [
      measure('completed payments/s', 'higher', throughput(thisP1), throughput(refP1)),
      measure('payment to final status p95', 'lower', p95(thisP1), p95(refP1)),
      measure('POST ?wait=0 p95', 'lower', p95(thisStart), p95(refStart)),
    ];
    const cpuMsPerPayment = {
      this: ownGroups(cpuMsPer(thisP1.cpuSeconds, N), 'ref'),
      ref: ownGroups(cpuMsPer(refP1.cpuSeconds, N), 'this'),
    };
    const sideInfo = (c: CodeUnderTest) => ({
      label: c.label,
      sha: c.sha,
      uncommittedChanges: c.uncommittedChanges,
      nodeModules: c.nodeModules,
      buildSeconds: Math.round(c.buildSeconds),
    });
    const report = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10),
      },
      parameters: {
        payments: N,
        concurrency: CONCURRENCY,
        latencyRequests: LATENCY_N,
        rounds: ROUNDS,
        tolerance: TOLERANCE,
      },
      this: sideInfo(thisCode),
      ref: sideInfo(refCode),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      measures,
      details: {
        payments: {
          wallMs: { this: Math.round(thisP1.wallMs), ref: Math.round(refP1.wallMs) },
          finalPayments: finalCounts,
          perPayment: { this: summarize(thisP1.durations), ref: summarize(refP1.durations) },
          cpuMsPerPayment,
        },
        start: { this: summarize(thisStart.durations), ref: summarize(refStart.durations) },
      },
    };
    printReport(measures, thisCode, refCode, cpuMsPerPayment);
    const file = writeBenchResult('compare', report);
    log(`wrote ${file} under "compare" (${report.durationSeconds} s in all)`);
    for (const side of sides) {
      const final = finalCounts[side.name];
      if (final !== N) throw new Error(`${side.name}: only ${final} of ${N} payments reached a final status`);
    }
  } finally {
    await Promise.all(sides.flatMap((s) => [s.api.stop(), s.worker.stop()]));
    await acme.close();
    await temporalServer.stop();
    for (const side of sides) {
      await side.sql.end();
      await side.db.drop();
    }
  }
}

/** A side's scratch database, migrated by its own code, then its worker and API from its dist/. */
async function startSide(
  name: RunningSide['name'],
  code: CodeUnderTest,
  port: number,
  temporalAddress: string,
  acme: { url: string; accountId: string; apiKey: string },
): Promise<RunningSide> {
  const db = await scratchDatabase(`switchyard_bench_compare_${name}_${process.pid}`);
  const { adminToken, env } = switchyardSettings({
    databaseUrl: db.url,
    temporalAddress,
    taskQueueSuffix: `compare-${name}`,
  });
  const processes: BenchProcess[] = [];
  try {
    log(
      `${name}: migrating its database with its own dist/db/migrate-cli.js, starting its worker and API (port ${port})`,
    );
    migrateWithDist(code.root, env);
    const worker = await startProcess(
      `${name} worker`,
      'dist/workers/main.js',
      { ...env, LOG_LEVEL: 'info' },
      /worker running/,
      undefined,
      [],
      code.root,
    );
    processes.push(worker);
    const apiEnv = { ...env, ADMIN_TOKEN: adminToken, PORT: String(port), LOG_LEVEL: 'info' };
    const api = await startProcess(
      `${name} api`,
      'dist/api/main.js',
      apiEnv,
      /api listening/,
      undefined,
      [],
      code.root,
    );
    processes.push(api);
    const apiUrl = `http://127.0.0.1:${port}`;
    const { apiKey } = await setUpMerchant(apiUrl, adminToken, acme);
    return {
      name,
      code,
      db,
      sql: postgres(db.url, { max: 5, onnotice: () => {} }),
      worker,
      api,
      apiUrl,
      apiKey,
    };
  } catch (err) {
    await Promise.all(processes.map((p) => p.stop()));
    await db.drop();
    throw err;
  }
}

function throughput(side: Side): Figure {
  const perSecond = (n: number, wallMs: number) => Math.round((n / wallMs) * 1000 * 10) / 10;
  return {
    value: perSecond(side.durations.length, side.wallMs),
    n: side.durations.length,
    rounds: side.rounds.map((r) => perSecond(r.durations.length, r.wallMs)),
  };
}

function p95(side: Side): Figure {
  const pooled = summarize(side.durations);
  return {
    value: pooled.p95,
    n: pooled.n,
    p50: pooled.p50,
    p99: pooled.p99,
    rounds: side.rounds.map((r) => summarize(r.durations).p95),
  };
}

function measure(name: string, better: Measure['better'], thisFigure: Figure, refFigure: Figure): Measure {
  const ratio = Math.round((thisFigure.value / refFigure.value) * 100) / 100;
  const limit = better === 'higher' ? 1 - TOLERANCE : 1 + TOLERANCE;
  const regression = better === 'higher' ? ratio < limit : ratio > limit;
  return {
    measure: name,
    better,
    this: thisFigure,
    ref: refFigure,
    ratio,
    limit: Math.round(limit * 100) / 100,
    regression,
  };
}

/** CPU groups of one side and the shared ones, without the other side's (idle) processes. */
function ownGroups(cpuMs: Record<string, number>, other: RunningSide['name']): Record<string, number> {
  return Object.fromEntries(Object.entries(cpuMs).filter(([group]) => !group.startsWith(`${other} `)));
}

function describe(code: CodeUnderTest): string {
  return `${code.label} (${code.sha.slice(0, 10)}${code.uncommittedChanges ? ' + uncommitted changes' : ''})`;
}

function printReport(
  measures: Measure[],
  thisCode: CodeUnderTest,
  refCode: CodeUnderTest,
  cpuMsPerPayment: Record<string, unknown>,
): void {
  const lines = measures.map((m) => {
    // Rates to a tenth, latencies to the millisecond (the JSON keeps a tenth).
    const unit = (x: number) => (m.better === 'higher' ? `${x.toFixed(1)}/s` : `${Math.round(x)} ms`);
    const cell = (f: Figure) => {
      const spread = f.p50 !== undefined ? `p50 ${unit(f.p50)}, p99 ${unit(f.p99 ?? Number.NaN)}; ` : '';
      return `${unit(f.value)} (n ${f.n}; ${spread}rounds ${f.rounds.map(unit).join(', ')})`;
    };
    return [
      m.measure,
      cell(m.this),
      cell(m.ref),
      `${m.ratio.toFixed(2)}x`,
      `${m.better === 'higher' ? '<' : '>'} ${m.limit}x`,
      m.regression ? 'REGRESSION' : 'ok',
    ];
  });
  const load = os.loadavg().map((l) => l.toFixed(1));
  console.log(
    `\nthis: ${describe(thisCode)}\nref:  ${describe(refCode)}\nload average at the end: ${load.join(', ')} on ${os.cpus().length} cores\n`,
  );
  console.log(markdownTable(['measure', 'this', 'ref', 'this/ref', 'regression if', 'verdict'], lines));
  if (ROUNDS < 2)
    console.log(
      '\nOne round a side: nothing shows how far a side drifts between rounds; BENCH_ROUNDS=2 or more before believing a verdict.',
    );
  console.log(`\nCPU ms per payment, by process: ${JSON.stringify(cpuMsPerPayment)}\n`);
}
