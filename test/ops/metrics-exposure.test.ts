/**
 * Metrics leak nothing a tenant chose and are not public: a tenant's own provider names never become
 * label values (1,000 connections with random provider names add no series), and /metrics is not
 * readable on the public API port without METRICS_TOKEN (served on METRICS_PORT instead).
 */
import { randomBytes } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionHealth, connections, paymentStatusCounts } from '../../src/db/schema.js';
import { appMetricsRegistry } from '../../src/metrics/api-metrics.js';
import { startWorkerMetricsServer } from '../../src/metrics/worker-metrics.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { freePort, spawnEntryPoint, workerEnv } from '../support/processes.js';

const METRICS_TOKEN = `metrics-${randomBytes(16).toString('hex')}`;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ providers: [createStripeProviderFactory({ apiUrl: 'http://127.0.0.1:9' })], startWorker: false });
});
afterAll(async () => stack?.close());

/** The series (name and labels, sorted) of the metrics that carry a provider label. */
const providerSeries = (text: string) =>
  text
    .split('\n')
    .filter((l) => /^switchyard_(payments|gateway_circuits)\{/.test(l))
    .map((l) => l.slice(0, l.lastIndexOf(' ')))
    .sort();

function sample(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('provider labels', () => {
  it('do not grow with the provider names a tenant chooses', async () => {
    const t = await stack.createTenant();
    const created = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey: 'sk_test_series', webhookSecret: 'whsec_series' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [template] = await stack.database.db.select().from(connections).where(eq(connections.id, created.body.id as string));
    const names: string[] = [];
    const ids: string[] = [];
    /** Connections of tenant-registered providers, each with a payment and an open circuit. */
    const addTenantConnections = async (count: number) => {
      const rows = Array.from({ length: count }, () => {
        const provider = `tenant-${randomBytes(6).toString('hex')}`;
        names.push(provider);
        return { ...template!, id: `con_${randomBytes(10).toString('hex')}`, code: provider, provider };
      });
      ids.push(...rows.map((r) => r.id));
      await stack.database.db.insert(connections).values(rows);
      await stack.database.db.insert(paymentStatusCounts).values(rows.map((r) => ({ status: 'succeeded', connectionId: r.id, shard: 0, n: 1 })));
      await stack.database.db.insert(connectionHealth).values(rows.map((r) => ({ connectionId: r.id, tenantId: r.tenantId, circuit: { state: 'open' } })));
    };
    const api = appMetricsRegistry(stack.database.db, stack.providers);
    const worker = await startWorkerMetricsServer({ db: stack.database.db, providers: stack.providers, host: '127.0.0.1', port: 0 });
    try {
      const scrape = async () => `${await api.metrics()}\n${await (await fetch(worker.url)).text()}`;
      // The database is shared with the other suites: compare with what was there before, not with absolutes.
      await addTenantConnections(1);
      const before = await scrape();
      await addTenantConnections(1000);
      const after = await scrape();

      expect(providerSeries(after)).toEqual(providerSeries(before));
      const providerValues = new Set(providerSeries(after).map((l) => /provider="([^"]*)"/.exec(l)?.[1]));
      for (const value of providerValues) expect(['stripe', 'declarative', 'none'], `provider label ${value}`).toContain(value);
      const grew = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
      expect(grew('switchyard_payments', { status: 'succeeded', provider: 'declarative' })).toBe(1000);
      expect(grew('switchyard_gateway_circuits', { provider: 'declarative', state: 'open' })).toBe(1000);
      expect(sample(after, 'switchyard_gateway_circuits', { provider: 'stripe', state: 'closed' })).toBeGreaterThanOrEqual(1);
      for (const name of names.slice(0, 50)) expect(after).not.toContain(name);
    } finally {
      await worker.close();
      // Leave the shared tables as other suites expect them (payment counts agree with the payments).
      await stack.database.db.delete(paymentStatusCounts).where(inArray(paymentStatusCounts.connectionId, ids));
      await stack.database.db.delete(connectionHealth).where(inArray(connectionHealth.connectionId, ids));
      await stack.database.db.delete(connections).where(inArray(connections.id, ids));
    }
  }, 60_000);
});

describe('/metrics on the public API port', () => {
  it('is not served without METRICS_TOKEN, and with it only to that bearer token', async () => {
    await request(stack.app).get('/metrics').expect(404);
    const app = stack.makeApp({ metricsToken: METRICS_TOKEN });
    const none = await request(app).get('/metrics').expect(401);
    expect(none.body.error).toMatchObject({ code: 'unauthorized' });
    await request(app).get('/metrics').set('Authorization', 'Bearer not-the-metrics-token').expect(401);
    await request(app).get('/metrics').set('Authorization', `Bearer ${stack.adminToken}`).expect(401);
    const ok = await request(app).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    expect(ok.text).toMatch(/^# TYPE switchyard_payments gauge$/m);
  });

  it('the API entry point serves them on METRICS_PORT and not on PORT', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const api = spawnEntryPoint('src/api/main.ts', workerEnv(stack, { ADMIN_TOKEN: stack.adminToken, PORT: String(port), METRICS_PORT: String(metricsPort) }));
    try {
      await api.waitFor('api metrics listening');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^# TYPE switchyard_http_request_duration_seconds histogram$/m);
    } finally {
      await api.stop('SIGKILL');
    }
  }, 90_000);
});
