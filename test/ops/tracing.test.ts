import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv, workerSchema } from '../../src/config/env.js';
import { startTracing } from '../../src/tracing/tracing.js';
import { paymentBody, setUpMerchant, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';
import { freePort, spawnEntryPoint, workerEnv, type EntryPointProcess } from '../support/processes.js';

/** A span as an OTLP/HTTP JSON export carries it, with the service that sent it. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
}

interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number }[] }[];
  }[];
}

/** A tiny OTLP/HTTP receiver: POST /v1/traces with JSON bodies (what exporter-trace-otlp-http sends). */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces' && String(req.headers['content-type']).startsWith('application/json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpJson;
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans, server };
}

describe('tracing settings', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: no interceptors, no request middleware', async () => {
    const tracing = await startTracing(parseEnv(workerSchema, {}), 'switchyard-test');
    expect(tracing).toMatchObject({ enabled: false });
    expect(tracing.clientInterceptors).toBeUndefined();
    expect(tracing.worker).toBeUndefined();
    expect(tracing.httpMiddleware).toBeUndefined();
  });

  it('refuses a malformed endpoint or header list, naming the variable', () => {
    expect(() => parseEnv(workerSchema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => parseEnv(workerSchema, { OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(parseEnv(workerSchema, { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc, x-team=pay%20ops' }).OTEL_EXPORTER_OTLP_HEADERS).toEqual({ 'x-api-key': 'abc', 'x-team': 'pay ops' });
  });
});

let f: PaymentsFixture;
let m: MerchantSetup;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
const processes: EntryPointProcess[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  f = await startPaymentsFixture({ startWorker: false });
  m = await setUpMerchant(f, (c) => [{ name: 'acme only', priority: 10, connectionIds: [c.acmeId] }]);
});
afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  await f?.close();
  receiver?.server.close();
});

describe('a payment as one trace', () => {
  it('exports the API request, the workflow start and run, the gateway activity and its HTTP call with one trace id, each the child of the one before', async () => {
    // A workflow's RunWorkflow span ends when the run does; the payment run closes at its outcome here
    // instead of staying open for its aftercare window (7 days by default).
    const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200', PAYMENT_AFTERCARE_WINDOW_SECONDS: '0' };
    // No WORKFLOW_BUNDLE_PATH: the worker bundles at start, with the tracing interceptors.
    const worker = spawnEntryPoint('src/workers/main.ts', workerEnv(f.stack, tracingEnv));
    processes.push(worker);
    const port = await freePort();
    const api = spawnEntryPoint('src/api/main.ts', workerEnv(f.stack, { ...tracingEnv, ADMIN_TOKEN: f.stack.adminToken, PORT: String(port) }));
    processes.push(api);
    await Promise.all([worker.waitFor('worker running', 150_000), api.waitFor('api listening')]);
    expect(worker.output()).toContain('tracing on');

    const res = await fetch(`http://127.0.0.1:${port}/v1/payments`, {
      method: 'POST',
      headers: { ...m.auth, 'content-type': 'application/json', 'idempotency-key': `trace-${Date.now()}` },
      body: JSON.stringify(paymentBody({ paymentMethod: { type: 'card', token: 'tok_visa' } })),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');

    const find = (pred: (s: ReceivedSpan) => boolean) => receiver.spans.find(pred);
    const deadline = Date.now() + 20_000;
    while (!(find((s) => s.name === 'RunWorkflow:paymentWorkflow') && find((s) => /^RunActivity:.*charge/i.test(s.name)) && find((s) => s.name === 'POST /v1/payments'))) {
      if (Date.now() > deadline) throw new Error(`spans missing; received: ${receiver.spans.map((s) => `${s.service} ${s.name}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const http = find((s) => s.name === 'POST /v1/payments')!;
    expect(http).toMatchObject({ service: 'switchyard-api', kind: 2 /* SERVER */ });
    const inTrace = receiver.spans.filter((s) => s.traceId === http.traceId);
    const start = inTrace.find((s) => s.name === 'StartWorkflow:paymentWorkflow');
    const run = inTrace.find((s) => s.name === 'RunWorkflow:paymentWorkflow');
    const charge = inTrace.find((s) => /^RunActivity:.*charge/i.test(s.name));
    expect(start, 'StartWorkflow in the request trace').toMatchObject({ service: 'switchyard-api', parentSpanId: http.spanId });
    expect(run, 'RunWorkflow in the request trace').toMatchObject({ service: 'switchyard-worker', parentSpanId: start!.spanId });
    expect(charge, 'the gateway activity in the request trace').toMatchObject({ service: 'switchyard-worker' });
    // The activity's run hangs under the workflow's StartActivity span, which hangs under the run.
    const scheduled = inTrace.find((s) => s.spanId === charge!.parentSpanId);
    expect(scheduled?.name).toMatch(/^StartActivity:/);
    expect(scheduled?.parentSpanId).toBe(run!.spanId);
    // The gateway call itself (egress fetch) is a CLIENT span inside the activity's.
    const outbound = inTrace.find((s) => s.parentSpanId === charge!.spanId && s.kind === 3 /* CLIENT */);
    expect(outbound, 'the outbound HTTP call under the gateway activity').toMatchObject({ service: 'switchyard-worker', name: 'POST 127.0.0.1' });
  }, 240_000);
});
