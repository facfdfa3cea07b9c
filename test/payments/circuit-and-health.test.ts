import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHealthCheckSchedule } from '../../src/temporal/payments/health-schedule.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

const OPEN_FOR_MS = 2_000;
let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture({
    circuit: { windowMs: 60_000, minimumCalls: 2, failureRateThreshold: 0.5, openDurationMs: OPEN_FOR_MS, halfOpenSuccessesToClose: 1 },
  });
});
afterAll(async () => f?.close());

describe('circuit breaker', () => {
  it('opens after failures (routing skips the gateway), half-opens, and closes after a successful probe', async () => {
    const m = await setUpMerchant(f);
    const health = async () => (await request(f.stack.app).get(`/v1/connections/${m.stripeId}/health`).set(m.auth).expect(200)).body;
    const stripeCalls = () => f.stripe.requests().filter((r) => r.path.startsWith('/v1/payment_intents')).length;

    // Two payments whose Stripe attempts fail (3 tries each), both rescued by AcmePay.
    f.stripe.failNext({ times: 6, status: 503, pathPrefix: '/v1/payment_intents' });
    for (let i = 0; i < 2; i++) {
      const { id } = await startPayment(f, m);
      const p = await waitForPayment(f, m, id);
      expect(p.attempts.map((a: { connectionId: string }) => a.connectionId)).toEqual([m.stripeId, m.acmeId]);
    }
    const opened = await health();
    expect(opened.circuit.state).toBe('open');
    expect(opened.circuit.window).toMatchObject({ calls: 2, failures: 2, failureRate: 1 });

    // While open, routing skips Stripe and says why; Stripe receives nothing.
    const before = stripeCalls();
    const sim = await request(f.stack.app).post('/v1/routing/simulate').set(m.auth).send({ amount: 100, currency: 'EUR', country: 'DE' }).expect(200);
    expect(sim.body.skipped).toContainEqual(expect.objectContaining({ connectionId: m.stripeId, reason: expect.stringContaining('circuit') }));
    const skipped = await startPayment(f, m);
    const p3 = await waitForPayment(f, m, skipped.id);
    expect(p3.status).toBe('succeeded');
    expect(p3.attempts.map((a: { connectionId: string }) => a.connectionId)).toEqual([m.acmeId]);
    expect(stripeCalls()).toBe(before);

    // After the open period the next payment probes Stripe (now recovered) and the circuit closes.
    await new Promise((r) => setTimeout(r, OPEN_FOR_MS + 200));
    expect((await health()).circuit.state).toBe('half_open');
    const probe = await startPayment(f, m);
    const p4 = await waitForPayment(f, m, probe.id);
    expect(p4.attempts.map((a: { connectionId: string }) => a.connectionId)).toEqual([m.stripeId]);
    expect((await health()).circuit.state).toBe('closed');
  });
});

describe('health checks', () => {
  it('a Temporal Schedule probes each connection; an unhealthy gateway is skipped by routing', async () => {
    const m = await setUpMerchant(f);
    f.acme.setHealthy(false);
    try {
      await ensureHealthCheckSchedule(f.stack.temporal, f.stack.taskQueues, 5, f.stack.queueSuffix);
      const schedule = f.stack.temporal.schedule.getHandle(`connection-health-checks-${f.stack.queueSuffix}`);
      // Two failed checks in a row mark a connection unhealthy; trigger them rather than wait 10 s, each
      // once the last has run (a trigger while a check runs is skipped: the Schedule allows no overlap).
      for (let checks = 1; checks <= 2; checks++) {
        await schedule.trigger();
        for (let i = 0; i < 150; i++) {
          const { info } = await schedule.describe();
          if (info.numActionsTaken >= checks && info.runningActions.length === 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // The sweep probes every active connection of the shared database (other suites' too), in pages:
      // wait until it has reached both of this merchant's.
      const healthOf = async (id: string) => (await request(f.stack.app).get(`/v1/connections/${id}/health`).set(m.auth)).body as { health: string; lastCheck: { detail: string | null } | null };
      let h = await healthOf(m.acmeId);
      let stripeHealth = await healthOf(m.stripeId);
      for (let i = 0; i < 150 && (h.health !== 'unhealthy' || stripeHealth.health === 'unknown'); i++) {
        await new Promise((r) => setTimeout(r, 200));
        [h, stripeHealth] = [await healthOf(m.acmeId), await healthOf(m.stripeId)];
      }
      expect(h.health).toBe('unhealthy');
      expect(h.lastCheck).not.toBeNull();
      expect(stripeHealth.health).toBe('healthy');
      const sim = await request(f.stack.app).post('/v1/routing/simulate').set(m.auth).send({ amount: 100, currency: 'EUR', country: 'DE' }).expect(200);
      expect(sim.body.skipped).toContainEqual(expect.objectContaining({ connectionId: m.acmeId, reason: expect.stringContaining('unhealthy') }));
      await schedule.delete();
    } finally {
      f.acme.setHealthy(true);
    }
  });
});
