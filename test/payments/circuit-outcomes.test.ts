import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCircuitOutcome } from '../../src/stores/payments/connection-health-store.js';
import type { CircuitConfig } from '../../src/domain/circuit-breaker.js';
import {
  setUpMerchant,
  startPaymentsFixture,
  type MerchantSetup,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

const CIRCUIT: CircuitConfig = {
  windowMs: 60_000,
  minimumCalls: 10,
  failureRateThreshold: 0.5,
  openDurationMs: 60_000,
  halfOpenSuccessesToClose: 3,
};

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture({ startWorker: false, circuit: CIRCUIT });
});
afterAll(async () => f?.close());

/** One gateway call's outcome, as the payment workflow's bookkeeping records it with the attempt. */
const recordOutcome = async (input: {
  tenantId: string;
  connectionId: string;
  ok: boolean;
  callKey?: string;
}) => ({
  circuit: await recordCircuitOutcome(f.stack.database.db, input, Date.now(), CIRCUIT),
});
const health = async (m: MerchantSetup, id: string) =>
  (await request(f.stack.app).get(`/v1/connections/${id}/health`).set(m.auth).expect(200)).body;

describe('circuit breaker outcomes under concurrency', () => {
  it('recording on a closed circuit does not wait for the circuit row (no hot-row lock)', async () => {
    const m = await setUpMerchant(f);
    await recordOutcome({ tenantId: m.tenantId, connectionId: m.stripeId, ok: true });
    // Another transaction holds the circuit row, as a slow recorder would.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const holder = f.stack.database.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from connection_health where connection_id = ${m.stripeId} for update`);
      locked();
      await held;
    });
    await lockTaken;
    try {
      const recorded = recordOutcome({ tenantId: m.tenantId, connectionId: m.stripeId, ok: true }).then(
        () => 'recorded',
      );
      const waited = new Promise((r) => setTimeout(() => r('blocked'), 5_000));
      expect(await Promise.race([recorded, waited])).toBe('recorded');
    } finally {
      release();
      await holder;
    }
  });

  it('200 concurrent outcomes are all counted, and the breaker still opens on their failure rate', async () => {
    const m = await setUpMerchant(f);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        recordOutcome({ tenantId: m.tenantId, connectionId: m.acmeId, ok: i % 4 !== 0 }),
      ),
    );
    const ms = Math.round(performance.now() - started);
    console.log(`[circuit] 200 concurrent recordings on one connection: ${ms} ms`);
    expect(results.every((r) => r.circuit === 'closed')).toBe(true);
    expect((await health(m, m.acmeId)).circuit).toMatchObject({
      state: 'closed',
      window: { calls: 200, failures: 50, failureRate: 0.25 },
    });

    const failing = await Promise.all(
      Array.from({ length: 200 }, () =>
        recordOutcome({ tenantId: m.tenantId, connectionId: m.stripeId, ok: false }),
      ),
    );
    expect(failing.filter((r) => r.circuit === 'open').length).toBeGreaterThan(0);
    const opened = (await health(m, m.stripeId)).circuit;
    expect(opened.state).toBe('open');
    expect(opened.window.failureRate).toBe(1);
  });

  it('an outcome recorded again with the same call key counts once (a local activity run again after a crash)', async () => {
    const m = await setUpMerchant(f);
    const call = { tenantId: m.tenantId, connectionId: m.acmeId };
    // The lean payment path records the circuit outcome with the attempt outcome, from a local
    // activity; a worker crash re-runs it with the same key.
    for (let i = 0; i < 3; i++) await recordOutcome({ ...call, ok: false, callKey: 'pay_x-1-1' });
    await recordOutcome({ ...call, ok: true, callKey: 'pay_x-1-2' });
    // Calls without a key still count every time.
    await recordOutcome({ ...call, ok: true });
    await recordOutcome({ ...call, ok: true });
    expect((await health(m, m.acmeId)).circuit.window).toMatchObject({ calls: 4, failures: 1 });
  });
});
