/**
 * A per-connection circuit breaker as pure state transitions. The state is plain JSON (stored as
 * jsonb); callers pass the current time in, so the same inputs always give the same state.
 *
 * closed    → open       when the window holds >= minimumCalls calls and the failure rate reaches the
 *                        threshold
 * open      → half_open  once openDurationMs has passed (on `evaluate`, or before recording)
 * half_open → open       on any failure
 * half_open → closed     after halfOpenSuccessesToClose successes; the window starts empty
 */
import { z } from 'zod';

export interface CircuitConfig {
  /** Sliding window over which the failure rate is computed. */
  windowMs: number;
  /** Calls needed in the window before the rate can open the circuit. */
  minimumCalls: number;
  /** Failure rate, 0..1, at or above which the circuit opens. */
  failureRateThreshold: number;
  /** How long the circuit stays open before letting probe calls through. */
  openDurationMs: number;
  halfOpenSuccessesToClose: number;
}

export const DEFAULT_CIRCUIT_CONFIG: Readonly<CircuitConfig> = Object.freeze({
  windowMs: 60_000,
  minimumCalls: 10,
  failureRateThreshold: 0.5,
  openDurationMs: 30_000,
  halfOpenSuccessesToClose: 3,
});

export type CircuitStateName = 'closed' | 'open' | 'half_open';

export interface CircuitState {
  state: CircuitStateName;
  /** When the circuit last opened (epoch ms); kept through half_open, dropped on close. */
  openedAt?: number;
  /** Recent call outcomes, oldest first, pruned to the window and capped at MAX_OUTCOMES. */
  outcomes: { at: number; ok: boolean }[];
  halfOpenSuccesses: number;
}

/**
 * Bound on stored outcomes, so the jsonb row stays small under heavy traffic: the rate is then over
 * the most recent calls within the window. Raised to minimumCalls if that is larger.
 */
export const MAX_OUTCOMES = 200;

/** For reading a stored state back from the database. */
export const circuitStateSchema = z.object({
  state: z.enum(['closed', 'open', 'half_open']),
  openedAt: z.number().optional(),
  outcomes: z.array(z.object({ at: z.number(), ok: z.boolean() })),
  halfOpenSuccesses: z.number().int().nonnegative(),
});

export function initialCircuit(): CircuitState {
  return { state: 'closed', outcomes: [], halfOpenSuccesses: 0 };
}

/** Moves an open circuit to half_open once its open period is over; otherwise returns `s` unchanged. */
export function evaluate(
  s: CircuitState,
  now: number,
  cfg: CircuitConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitState {
  if (s.state !== 'open') return s;
  // A stored open state without openedAt cannot be timed; let probes decide rather than stay open forever.
  if (s.openedAt !== undefined && now - s.openedAt < cfg.openDurationMs) return s;
  return { ...s, state: 'half_open', halfOpenSuccesses: 0 };
}

/**
 * Records one call's outcome at `now`. The open period is evaluated first, so the first result after
 * it counts as a half-open probe. Outcomes that arrive while the circuit is still open (calls started
 * before it opened) are kept in the window but change nothing.
 */
export function recordOutcome(
  s: CircuitState,
  ok: boolean,
  now: number,
  cfg: CircuitConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitState {
  const current = evaluate(s, now, cfg);
  const outcomes = pruned([...current.outcomes, { at: now, ok }], now, cfg);

  switch (current.state) {
    case 'open':
      return { ...current, outcomes };
    case 'half_open': {
      if (!ok) return { state: 'open', openedAt: now, outcomes, halfOpenSuccesses: 0 };
      const halfOpenSuccesses = current.halfOpenSuccesses + 1;
      if (halfOpenSuccesses >= cfg.halfOpenSuccessesToClose) return initialCircuit();
      return { ...current, outcomes, halfOpenSuccesses };
    }
    case 'closed': {
      const next: CircuitState = { state: 'closed', outcomes, halfOpenSuccesses: 0 };
      const { calls, rate } = rateOf(outcomes, now, cfg);
      if (calls >= cfg.minimumCalls && rate >= cfg.failureRateThreshold) {
        return { ...next, state: 'open', openedAt: now };
      }
      return next;
    }
  }
}

/** Calls and failures within the window ending at `now`. `rate` is 0 when there were no calls. */
export function failureRate(
  s: CircuitState,
  now: number,
  cfg: CircuitConfig = DEFAULT_CIRCUIT_CONFIG,
): { calls: number; failures: number; rate: number } {
  return rateOf(s.outcomes, now, cfg);
}

function inWindow(at: number, now: number, cfg: CircuitConfig): boolean {
  return now - at <= cfg.windowMs;
}

function pruned(
  outcomes: CircuitState['outcomes'],
  now: number,
  cfg: CircuitConfig,
): CircuitState['outcomes'] {
  const kept = outcomes.filter((o) => inWindow(o.at, now, cfg));
  const cap = Math.max(MAX_OUTCOMES, cfg.minimumCalls);
  return kept.length > cap ? kept.slice(kept.length - cap) : kept;
}

function rateOf(outcomes: CircuitState['outcomes'], now: number, cfg: CircuitConfig) {
  let calls = 0;
  let failures = 0;
  for (const o of outcomes) {
    if (!inWindow(o.at, now, cfg)) continue;
    calls += 1;
    if (!o.ok) failures += 1;
  }
  return { calls, failures, rate: calls === 0 ? 0 : failures / calls };
}

/** A stored (jsonb) circuit as of `now`: no stored state means a fresh, closed circuit. */
export function storedCircuitAt(
  stored: unknown,
  now: number,
  cfg: CircuitConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitState {
  return stored ? evaluate(circuitStateSchema.parse(stored), now, cfg) : initialCircuit();
}
