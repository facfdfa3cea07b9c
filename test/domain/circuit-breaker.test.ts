import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CIRCUIT_CONFIG,
  MAX_OUTCOMES,
  circuitStateSchema,
  evaluate,
  failureRate,
  initialCircuit,
  recordOutcome,
  type CircuitConfig,
  type CircuitState,
} from '../../src/domain/circuit-breaker.js';

const cfg: CircuitConfig = {
  windowMs: 10_000,
  minimumCalls: 4,
  failureRateThreshold: 0.5,
  openDurationMs: 5_000,
  halfOpenSuccessesToClose: 2,
};

/** Applies outcomes given as [time, ok] in order. */
function run(outcomes: [number, boolean][], from: CircuitState = initialCircuit()): CircuitState {
  return outcomes.reduce((s, [at, ok]) => recordOutcome(s, ok, at, cfg), from);
}

describe('closed circuit', () => {
  it.each<[string, [number, boolean][], 'closed' | 'open']>([
    [
      'too few calls to judge',
      [
        [1, false],
        [2, false],
        [3, false],
      ],
      'closed',
    ],
    [
      'failure rate at the threshold opens',
      [
        [1, true],
        [2, false],
        [3, true],
        [4, false],
      ],
      'open',
    ],
    [
      'failure rate below the threshold',
      [
        [1, true],
        [2, false],
        [3, true],
        [4, true],
        [5, false],
      ],
      'closed',
    ],
    [
      'all failures',
      [
        [1, false],
        [2, false],
        [3, false],
        [4, false],
      ],
      'open',
    ],
    [
      'all successes',
      [
        [1, true],
        [2, true],
        [3, true],
        [4, true],
        [5, true],
      ],
      'closed',
    ],
    // The first two failures have left the 10 s window by t=10 003, so only 3 calls remain.
    [
      'old failures leave the window',
      [
        [1, false],
        [2, false],
        [10_001, false],
        [10_002, true],
        [10_003, false],
      ],
      'closed',
    ],
  ])('%s', (_name, outcomes, state) => {
    expect(run(outcomes).state).toBe(state);
  });

  it('records when it opened', () => {
    const s = run([
      [1, false],
      [2, false],
      [3, false],
      [4, false],
    ]);
    expect(s).toMatchObject({ state: 'open', openedAt: 4, halfOpenSuccesses: 0 });
  });

  it('prunes outcomes older than the window', () => {
    const s = run([
      [0, false],
      [5_000, true],
      [10_000, true],
      [10_001, true],
    ]);
    expect(s.outcomes.map((o) => o.at)).toEqual([5_000, 10_000, 10_001]);
  });

  it('caps the outcome list', () => {
    const many: [number, boolean][] = Array.from({ length: MAX_OUTCOMES + 50 }, (_, i) => [i, true]);
    const s = run(many);
    expect(s.outcomes).toHaveLength(MAX_OUTCOMES);
    expect(s.outcomes[0]?.at).toBe(50);
  });

  it('keeps at least minimumCalls outcomes when that exceeds the cap', () => {
    const big = { ...cfg, minimumCalls: MAX_OUTCOMES + 10, windowMs: 1e9 };
    let s = initialCircuit();
    for (let i = 0; i < MAX_OUTCOMES + 10; i++) s = recordOutcome(s, false, i, big);
    expect(s.state).toBe('open');
  });

  it('does not mutate the state it is given', () => {
    const before = run([
      [1, false],
      [2, false],
      [3, false],
    ]);
    const snapshot = structuredClone(before);
    recordOutcome(before, false, 4, cfg);
    expect(before).toEqual(snapshot);
  });
});

describe('open and half-open circuit', () => {
  const opened = run([
    [0, false],
    [1, false],
    [2, false],
    [3, false],
  ]); // opened at 3

  it.each([
    [3, 'open'],
    [5_002, 'open'],
    [5_003, 'half_open'],
    [60_000, 'half_open'],
  ] as const)('evaluate at t=%i -> %s', (now, state) => {
    expect(evaluate(opened, now, cfg).state).toBe(state);
  });

  it('leaves closed and half-open circuits unchanged on evaluate', () => {
    const closed = initialCircuit();
    expect(evaluate(closed, 1e9, cfg)).toBe(closed);
    const half = evaluate(opened, 5_003, cfg);
    expect(evaluate(half, 1e9, cfg)).toBe(half);
  });

  it('treats an open state without openedAt as due for probing', () => {
    expect(evaluate({ state: 'open', outcomes: [], halfOpenSuccesses: 0 }, 0, cfg).state).toBe('half_open');
  });

  it('ignores late outcomes while still open', () => {
    const s = recordOutcome(opened, true, 100, cfg);
    expect(s).toMatchObject({ state: 'open', openedAt: 3, halfOpenSuccesses: 0 });
    expect(s.outcomes).toHaveLength(5);
  });

  it.each<[string, boolean[], CircuitState['state'], number]>([
    ['one success counts', [true], 'half_open', 1],
    ['enough successes close', [true, true], 'closed', 0],
    ['a failure reopens', [false], 'open', 0],
    ['a failure after a success reopens', [true, false], 'open', 0],
  ])('half-open: %s', (_name, oks, state, successes) => {
    // recordOutcome evaluates first: the first result after the open period is a probe.
    const s = oks.reduce((acc, ok, i) => recordOutcome(acc, ok, 6_000 + i, cfg), opened);
    expect(s.state).toBe(state);
    expect(s.halfOpenSuccesses).toBe(successes);
  });

  it('reopens with a fresh openedAt', () => {
    const s = recordOutcome(opened, false, 6_000, cfg);
    expect(s.openedAt).toBe(6_000);
    expect(evaluate(s, 10_999, cfg).state).toBe('open');
    expect(evaluate(s, 11_000, cfg).state).toBe('half_open');
  });

  it('closes with an empty window, so earlier failures cannot reopen it at once', () => {
    const closed = run(
      [
        [6_000, true],
        [6_001, true],
      ],
      opened,
    );
    expect(closed).toEqual(initialCircuit());
    expect(run([[6_002, false]], closed).state).toBe('closed');
  });

  it('resets the probe count each time it goes half-open', () => {
    const probing = recordOutcome(opened, true, 6_000, cfg); // half_open, 1 success
    const reopened = recordOutcome(probing, false, 6_001, cfg);
    const halfAgain = evaluate(reopened, 11_001, cfg);
    expect(halfAgain.halfOpenSuccesses).toBe(0);
    expect(recordOutcome(halfAgain, true, 11_002, cfg).state).toBe('half_open');
  });
});

describe('failureRate', () => {
  it.each<[string, [number, boolean][], number, { calls: number; failures: number; rate: number }]>([
    ['no calls', [], 0, { calls: 0, failures: 0, rate: 0 }],
    [
      'mixed',
      [
        [1, true],
        [2, false],
        [3, false],
      ],
      3,
      { calls: 3, failures: 2, rate: 2 / 3 },
    ],
    [
      'counts only the window',
      [
        [1, false],
        [2, true],
      ],
      10_002,
      { calls: 1, failures: 0, rate: 0 },
    ],
    ['window edge is inclusive', [[1, false]], 10_001, { calls: 1, failures: 1, rate: 1 }],
  ])('%s', (_name, outcomes, now, expected) => {
    const s: CircuitState = { ...initialCircuit(), outcomes: outcomes.map(([at, ok]) => ({ at, ok })) };
    expect(failureRate(s, now, cfg)).toEqual(expected);
  });
});

describe('serialization', () => {
  it('round-trips through JSON and the schema unchanged', () => {
    const s = run([
      [0, false],
      [1, false],
      [2, false],
      [3, false],
    ]);
    const back = circuitStateSchema.parse(JSON.parse(JSON.stringify(s)));
    expect(back).toEqual(s);
    expect(recordOutcome(back, true, 9_000, cfg)).toEqual(recordOutcome(s, true, 9_000, cfg));
  });

  it('uses sensible defaults', () => {
    expect(DEFAULT_CIRCUIT_CONFIG.failureRateThreshold).toBeGreaterThan(0);
    expect(DEFAULT_CIRCUIT_CONFIG.failureRateThreshold).toBeLessThanOrEqual(1);
    expect(Object.isFrozen(DEFAULT_CIRCUIT_CONFIG)).toBe(true);
    // recordOutcome defaults to DEFAULT_CIRCUIT_CONFIG
    let s = initialCircuit();
    for (let i = 0; i < DEFAULT_CIRCUIT_CONFIG.minimumCalls; i++) s = recordOutcome(s, false, i);
    expect(s.state).toBe('open');
  });
});
