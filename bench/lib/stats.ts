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
  between: () => Promise<void> = async () => {},
): Promise<[{ durations: number[]; wallMs: number }, { durations: number[]; wallMs: number }]> {
  const pooled: [{ durations: number[]; wallMs: number }, { durations: number[]; wallMs: number }] = [
    { durations: [], wallMs: 0 },
    { durations: [], wallMs: 0 },
  ];
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const n = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);
    for (const [side, task] of [a, b].entries()) {
      const offset = done;
      const run = await runConcurrently(n, concurrency, (i) => task(offset + i));
      pooled[side]!.durations.push(...run.durations);
      pooled[side]!.wallMs += run.wallMs;
      await between();
    }
    done += n;
  }
  return [pooled[0], pooled[1]];
}
