import { createServer, request as httpRequest, type Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../../src/api/server.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';
import { spawnEntryPoint, workerEnv } from '../support/processes.js';

describe('API graceful shutdown', () => {
  it('lets an in-flight request finish, and cuts a hung one after the timeout', async () => {
    const app = express();
    app.get('/slow', (_req, res) => void setTimeout(() => res.send('done'), 500));
    app.get('/hung', () => {});
    const http = await listen(app, '127.0.0.1', 0);
    const slow = fetch(`${http.url}/slow`);
    const hung = fetch(`${http.url}/hung`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 100)); // both requests are in the server's hands
    const started = Date.now();
    await http.close(1_500);
    const elapsed = Date.now() - started;
    expect(await (await slow).text()).toBe('done');
    expect(await hung).toBe('cut');
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(10_000);
  });
});

/** A network in front of Stripe that holds each charge for the next of `holdsMs`, then forwards it. */
function startHoldingProxy(target: () => string, holdsMs: number[], onCharge: () => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isCharge = req.method === 'POST' && req.url === '/v1/payment_intents';
      const hold = isCharge ? (holdsMs.shift() ?? 0) : 0;
      if (isCharge) onCharge();
      setTimeout(() => {
        const upstream = httpRequest(`${target()}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      }, hold);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })),
  );
}

let f: PaymentsFixture;
let proxy: { url: string; server: Server };
let charges = 0;
beforeAll(async () => {
  let stripeUrl = '';
  // The first charge takes 2 s (within the grace period), the second hangs for a minute.
  proxy = await startHoldingProxy(() => stripeUrl, [2_000, 60_000], () => (charges += 1));
  f = await startPaymentsFixture({ startWorker: false, stripeUrl: proxy.url });
  stripeUrl = f.stripe.url;
});
afterAll(async () => {
  await f?.close();
  proxy?.server.closeAllConnections();
  proxy?.server.close();
});

describe('worker graceful shutdown', () => {
  it('finishes an activity within WORKER_SHUTDOWN_GRACE_SECONDS and stops soon after it even if another one hangs', async () => {
    const m = await setUpMerchant(f);
    const worker = spawnEntryPoint('src/workers/main.ts', workerEnv(f.stack, { STRIPE_API_URL: proxy.url, WORKER_SHUTDOWN_GRACE_SECONDS: '4' }));
    try {
      await worker.waitFor('worker running');
      const first = await startPayment(f, m);
      for (let i = 0; i < 400 && charges < 1; i++) await new Promise((r) => setTimeout(r, 25));
      await startPayment(f, m);
      for (let i = 0; i < 400 && charges < 2; i++) await new Promise((r) => setTimeout(r, 25));
      expect(charges).toBe(2);

      const stopping = Date.now();
      const code = await worker.stop('SIGTERM');
      expect(code).toBe(0);
      const took = Date.now() - stopping;
      expect(took).toBeLessThan(25_000); // grace (4 s) + force (5 s), with room for a loaded machine
      expect(worker.output()).toContain('shutdown grace period over');

      // The first charge finished inside the grace period: its activity completed on its first attempt.
      const history = await f.stack.temporal.workflow.getHandle(first.workflowId).fetchHistory();
      const events = history.events ?? [];
      const charge = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeGateway');
      const completed = events.find((e) => e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(charge?.eventId));
      expect(completed).toBeDefined();
      await f.stack.startWorker();
      expect((await waitForPayment(f, m, first.id)).status).toBe('succeeded');
    } finally {
      await worker.stop('SIGKILL');
    }
  }, 120_000);
});
