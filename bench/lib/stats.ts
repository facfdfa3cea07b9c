/** Latency samples in milliseconds → the figures the report prints. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** Runs `total` tasks with at most `concurrency` in flight; returns each task's duration in ms. */
export async function runConcurrently(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<{ durations: number[]; wallMs: number }> {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const t0 = performance.now();
      await task(i);
      durations.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return { durations, wallMs: performance.now() - started };
}

/**
 * Starts `count` tasks at `perSecond`, each at its slot and not waiting for the previous one (an open
 * loop: a slow system gets a backlog, as it would from real traffic), and awaits all.
 */
export async function atRate(count: number, perSecond: number, task: (i: number) => Promise<void>): Promise<void> {
  const start = Date.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    running.push(task(i));
  }
  await Promise.all(running);
}

/** CPU seconds per named process group, summed over the rounds of one side. */
export type CpuSeconds = Record<string, number>;

/** CPU milliseconds per item by process group (groups that used none left out). */
export function cpuMsPer(cpuSeconds: CpuSeconds, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(cpuSeconds)
      .filter(([, s]) => s > 0.005)
      .map(([group, s]) => [group, Math.round((s / n) * 1000 * 10) / 10]),
  );
}

/** One side of alternateRounds: its rounds pooled, and each round on its own (for the spread). */
export interface Side {
  durations: number[];
  wallMs: number;
  /** Filled when a CPU meter is given: CPU seconds per process group during this side's rounds. */
  cpuSeconds: CpuSeconds;
  rounds: { durations: number[]; wallMs: number }[];
}

/**
 * Runs two measurements in alternating rounds (A B A B ...), `total` tasks each split over the rounds,
 * and pools each side's durations and wall time: on a shared machine, load that comes and goes then
 * falls on both sides alike instead of on whichever ran second.
 */
export async function alternateRounds(
  rounds: number,
  total: number,
  concurrency: number,
  a: (i: number) => Promise<void>,
  b: (i: number) => Promise<void>,
  opts: {
    /** Runs after each side's round (e.g. to let what it started finish). */
    between?: () => Promise<void>;
    /** A cpuMeter: each side also gets the CPU its process groups used while it ran. */
    cpu?: { start(): void; stop(): CpuSeconds };
  } = {},
): Promise<[Side, Side]> {
  const { between, cpu } = opts;
  const pooled: [Side, Side] = [
    { durations: [], wallMs: 0, cpuSeconds: {}, rounds: [] },
    { durations: [], wallMs: 0, cpuSeconds: {}, rounds: [] },
  ];
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const n = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);
    for (const [side, task] of [a, b].entries()) {
      const offset = done;
      cpu?.start();
      const run = await runConcurrently(n, concurrency, (i) => task(offset + i));
      const used = cpu?.stop() ?? {};
      const into = pooled[side]!;
      into.durations.push(...run.durations);
      into.wallMs += run.wallMs;
      into.rounds.push(run);
      for (const [group, seconds] of Object.entries(used)) into.cpuSeconds[group] = (into.cpuSeconds[group] ?? 0) + seconds;
      await between?.();
    }
    done += n;
  }
  return pooled;
}
