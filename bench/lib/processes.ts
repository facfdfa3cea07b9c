import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** The repository root (benches run from anywhere). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `npm run build`, so the processes a bench starts run the compiled code of this checkout (or of the
 * checkout at `root`, e.g. a git worktree of another commit), as production does (`node dist/...`),
 * and never an older dist/. Returns the seconds it took.
 */
export function buildDist(root = ROOT): number {
  const started = performance.now();
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`npm run build in ${root} failed (${result.status}):\n${`${result.stdout}${result.stderr}`.slice(-3000)}`);
  }
  return (performance.now() - started) / 1000;
}

/**
 * Applies the migrations of the checkout at `root` with its compiled migrator (`node
 * dist/db/migrate-cli.js`, the one-shot a deployment runs before the API and the workers).
 */
export function migrateWithDist(root: string, env: Record<string, string>): void {
  const inherited: Record<string, string | undefined> = { ...process.env };
  delete inherited.NODE_OPTIONS;
  const result = spawnSync(process.execPath, ['dist/db/migrate-cli.js'], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`node dist/db/migrate-cli.js in ${root} failed (${result.status}):\n${`${result.stdout}${result.stderr}`.slice(-3000)}`);
  }
}

/**
 * A worker service of docker-compose.yml as it is deployed: its node flags, the task queues it
 * serves and its capacity settings (WORKER_TASK_QUEUES, WORKER_ACTIVITY_SLOTS, TENANT_MAX_PROVIDER_CALLS), for `startProcess(..., 'dist/workers/main.js', {...env}, ..., nodeArgs)`.
 */
export function composeWorker(service: string): { nodeArgs: string[]; env: Record<string, string> } {
  const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
  };
  const found = compose.services[service];
  if (found?.command?.at(-1) !== 'dist/workers/main.js') throw new Error(`docker-compose.yml has no ${service} service running dist/workers/main.js`);
  // The deployment's shape (queues, capacity, each tenant's share), not its secrets or addresses.
  const shape = ['WORKER_TASK_QUEUES', 'WORKER_ACTIVITY_SLOTS', 'TENANT_MAX_PROVIDER_CALLS'];
  const env = Object.fromEntries(shape.flatMap((k) => (found.environment?.[k] !== undefined ? [[k, String(found.environment[k])]] : [])));
  return { nodeArgs: found.command.slice(1, -1), env: { WORKER_TASK_QUEUES: '', ...env } };
}

/** A child process of the benchmark (API, worker, baseline worker) with its resident memory. */
export interface BenchProcess {
  name: string;
  child: ChildProcess;
  /** Resident set size in MB, read from /proc (Linux). */
  rssMb(): number;
  /** The kernel's high-water mark of the resident set (VmHWM) in MB: the peak since the process started. */
  peakRssMb(): number;
  /** CPU time (user + system) the process has used so far, in seconds, from /proc (Linux). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** The field `name` (kB) of /proc/<pid>/status in MB. */
function statusMb(pid: number | undefined, name: string): number {
  try {
    const kb = new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Clock ticks a second of /proc/<pid>/stat (USER_HZ: 100 on every Linux Node supports). */
const CLOCK_TICKS = 100;

/**
 * Starts `node --import tsx <entry>` for a TypeScript entry, or plain `node <entry>` for compiled
 * JavaScript (`dist/...js`, as production runs it: no tsx, and no NODE_OPTIONS inherited from the
 * benchmark), and resolves once its output matches `ready`.
 */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 180_000,
  /** Flags for node itself, before the entry (e.g. V8 heap sizing, as a deployment sets it). */
  nodeArgs: string[] = [],
  /** The directory it runs in, `entry` relative to it (default: the bench's own). */
  cwd?: string,
): Promise<BenchProcess> {
  // BENCH_CPU_PROFILE_DIR=<dir> writes a V8 CPU profile of each process there when it exits.
  const profile = process.env.BENCH_CPU_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE_DIR}`]
    : [];
  const compiled = entry.endsWith('.js');
  const inherited: Record<string, string | undefined> = { ...process.env };
  if (compiled) delete inherited.NODE_OPTIONS;
  const child = spawn(process.execPath, [...profile, ...nodeArgs, ...(compiled ? [] : ['--import', 'tsx']), entry], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${output.slice(-2000)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining so a chatty process never blocks on a full pipe.
  child.stdout!.removeAllListeners('data').resume();
  child.stderr!.removeAllListeners('data').resume();
  child.removeAllListeners('exit');
  return {
    name,
    child,
    rssMb: () => statusMb(child.pid, 'VmRSS'),
    peakRssMb: () => statusMb(child.pid, 'VmHWM'),
    cpuSeconds: () => (child.pid === undefined ? Number.NaN : cpuSecondsOf(child.pid)),
    stop: () =>
      new Promise<void>((resolve) => {
        // Gone already: exited, or killed by a signal (the chaos bench's SIGKILL), which leaves exitCode null.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN when unreadable. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Pids whose command line matches `pattern` (Linux /proc); `parent` limits it to that process's children. */
export function pidsMatching(pattern: RegExp, parent?: number): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return pids;
  }
  for (const entry of entries) {
    try {
      if (!pattern.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' '))) continue;
      if (
        parent !== undefined &&
        Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) !== parent
      )
        continue;
      pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * CPU used by named groups of processes between two readings: `start()` then `stop()` gives CPU
 * seconds per group. A group is a function so its pids are looked up at each reading (database
 * backends come and go); a process that exits between the readings is left out of its group.
 */
export function cpuMeter(groups: Record<string, () => number[]>): {
  start(): void;
  stop(): Record<string, number>;
} {
  let before = new Map<number, number>();
  const read = () =>
    new Map(Object.values(groups).flatMap((pids) => pids().map((pid) => [pid, cpuSecondsOf(pid)] as const)));
  return {
    start: () => {
      before = read();
    },
    stop: () => {
      const out: Record<string, number> = {};
      for (const [name, pids] of Object.entries(groups)) {
        out[name] = pids().reduce((sum, pid) => sum + (cpuSecondsOf(pid) - (before.get(pid) ?? 0)), 0);
      }
      return out;
    },
  };
}

/**
 * The process groups every bench meters besides its own processes: the Temporal dev server at
 * `temporalAddress`, the Postgres backends of database `dbName`, and the bench process itself (the
 * emulators and the clients live there).
 */
export function sharedProcessGroups(temporalAddress: string, dbName: string): Record<string, () => number[]> {
  const temporalPort = temporalAddress.split(':').at(-1);
  return {
    temporalServer: () => pidsMatching(new RegExp(`temporal.* start-dev .*--port ${temporalPort} `)),
    postgres: () => pidsMatching(new RegExp(`^postgres: .*${dbName} `)),
    'bench (emulator, clients)': () => [process.pid],
  };
}

/**
 * The bare-Temporal baseline worker (bench/baseline/worker.ts) on `taskQueue`, its activities calling
 * the emulated gateway (payments bench) and/or the emulated Stripe (customers bench).
 */
export function startBaselineWorker(opts: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  gateway?: { url: string; authorization: string };
  stripe?: { url: string; authorization: string };
}): Promise<BenchProcess> {
  return startProcess(
    'baseline worker',
    'bench/baseline/worker.ts',
    {
      BENCH_DATABASE_URL: opts.databaseUrl,
      BENCH_TEMPORAL_ADDRESS: opts.temporalAddress,
      BENCH_TASK_QUEUE: opts.taskQueue,
      ...(opts.gateway ? { BENCH_GATEWAY_URL: opts.gateway.url, BENCH_GATEWAY_AUTH: opts.gateway.authorization } : {}),
      ...(opts.stripe ? { BENCH_STRIPE_URL: opts.stripe.url, BENCH_STRIPE_AUTH: opts.stripe.authorization } : {}),
    },
    /baseline worker running/,
  );
}
