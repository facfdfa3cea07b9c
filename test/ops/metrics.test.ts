import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitRejections } from '../../src/metrics/api-metrics.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';
import { freePort, spawnEntryPoint, workerEnv, type EntryPointProcess } from '../support/processes.js';

/** The value of one sample in a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

let f: PaymentsFixture;
let m: MerchantSetup;
let worker: EntryPointProcess;
let workerMetricsUrl: string;

beforeAll(async () => {
  f = await startPaymentsFixture({ startWorker: false });
  m = await setUpMerchant(f);
  const [metricsPort, temporalPort] = [await freePort(), await freePort()];
  worker = spawnEntryPoint(
    'src/workers/main.ts',
    workerEnv(f.stack, { STRIPE_API_URL: f.stripe.url, WORKER_METRICS_PORT: String(metricsPort), TEMPORAL_METRICS_PORT: String(temporalPort) }),
  );
  await worker.waitFor('worker running');
  workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
}, 120_000);
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await f?.close();
});

// The API serves /metrics on its public port only to the bearer of METRICS_TOKEN.
const METRICS_TOKEN = 'metrics-test-token-0123456789abcdef';
const scrapeApi = async () =>
  (await request(f.stack.makeApp({ metricsToken: METRICS_TOKEN })).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200).expect('Content-Type', /text\/plain/)).text;
const scrapeWorker = async () => {
  const res = await fetch(workerMetricsUrl);
  expect(res.status).toBe(200);
  return res.text();
};

describe('metrics', () => {
  it('move on both /metrics endpoints after payments, a replay, a webhook and a rate-limit rejection', async () => {
    const [api0, worker0] = [await scrapeApi(), await scrapeWorker()];
    const route = { route: '/v1/payments', status_code: '202' };

    // One payment that falls back: Stripe answers 503 three times, AcmePay takes it.
    f.stripe.failNext({ times: 3, status: 503, pathPrefix: '/v1/payment_intents', method: 'POST' });
    const key = randomUUID();
    const { id } = await startPayment(f, m, {}, key);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    await startPayment(f, m, {}, key); // the same request again: an idempotent replay
    await request(f.stack.app).post(`/v1/webhooks/${m.stripeId}`).set('Stripe-Signature', 't=1,v1=bad').send('{}').expect(400);
    rateLimitRejections.inc({ scope: 'tenant' });

    const api1 = await scrapeApi();
    expect(sample(api1, 'switchyard_http_request_duration_seconds_count', route)).toBe(sample(api0, 'switchyard_http_request_duration_seconds_count', route) + 2);
    expect(sample(api1, 'switchyard_idempotent_replays_total', { route: '/v1/payments' })).toBe(sample(api0, 'switchyard_idempotent_replays_total', { route: '/v1/payments' }) + 1);
    expect(sample(api1, 'switchyard_webhooks_received_total', { provider: 'stripe', outcome: 'signature_invalid' })).toBe(
      sample(api0, 'switchyard_webhooks_received_total', { provider: 'stripe', outcome: 'signature_invalid' }) + 1,
    );
    expect(sample(api1, 'switchyard_rate_limit_rejections_total', { scope: 'tenant' })).toBe(sample(api0, 'switchyard_rate_limit_rejections_total', { scope: 'tenant' }) + 1);
    expect(sample(api1, 'switchyard_payments', { status: 'succeeded', provider: 'acmepay' })).toBe(sample(api0, 'switchyard_payments', { status: 'succeeded', provider: 'acmepay' }) + 1);
    // Route templates, never raw paths with ids.
    expect(api1).not.toContain(id);

    const worker1 = await scrapeWorker();
    const calls = (labels: Record<string, string>) => sample(worker1, 'switchyard_gateway_calls_total', labels) - sample(worker0, 'switchyard_gateway_calls_total', labels);
    expect(calls({ provider: 'stripe', operation: 'authorize', outcome: 'retryable' })).toBe(3);
    expect(calls({ provider: 'acmepay', operation: 'authorize', outcome: 'ok' })).toBe(1);
    expect(sample(worker1, 'switchyard_gateway_call_duration_seconds_count', { provider: 'acmepay', operation: 'authorize' })).toBeGreaterThan(
      sample(worker0, 'switchyard_gateway_call_duration_seconds_count', { provider: 'acmepay', operation: 'authorize' }),
    );
    expect(sample(worker1, 'switchyard_gateway_circuits', { provider: 'stripe' })).toBeGreaterThanOrEqual(1);
    // The Temporal SDK's own metrics, from the Runtime's Prometheus exporter, on the same endpoint.
    expect(sample(worker1, 'temporal_activity_execution_latency_seconds_count')).toBeGreaterThan(sample(worker0, 'temporal_activity_execution_latency_seconds_count'));

    // The Grafana dashboard in deploy/ only charts metrics that these endpoints really export.
    const dashboard = readFileSync('deploy/grafana-dashboard.json', 'utf8');
    const used = new Set([...dashboard.matchAll(/\b((?:switchyard|temporal|process)_[a-z_]+)/g)].map((x) => x[1]!.replace(/_(bucket|count|sum)$/, '')));
    expect(used.size).toBeGreaterThan(5);
    const exported = `${api1}\n${worker1}`;
    for (const name of used) expect(exported, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  }, 120_000);
});
