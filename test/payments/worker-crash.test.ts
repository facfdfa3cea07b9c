import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

/**
 * A slow network in front of the Stripe emulator: each charge is held for HOLD_MS before it is
 * forwarded, and forwarded even if the caller is gone, so a worker can die after sending a charge
 * that the gateway then carries out.
 */
const HOLD_MS = 1_500;
function startSlowProxy(target: () => string, onCharge: () => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isCharge = req.method === 'POST' && req.url === '/v1/payment_intents';
      if (isCharge) onCharge();
      setTimeout(() => {
        const upstream = httpRequest(`${target()}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      }, isCharge ? HOLD_MS : 0);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    resolve({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server });
  }));
}

let f: PaymentsFixture;
let proxy: { url: string; server: Server };
let charges = 0;
let child: ChildProcess | undefined;

beforeAll(async () => {
  let stripeUrl = '';
  proxy = await startSlowProxy(() => stripeUrl, () => (charges += 1));
  f = await startPaymentsFixture({ startWorker: false, stripeUrl: proxy.url });
  stripeUrl = f.stripe.url;
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await f?.close();
  proxy?.server.close();
});

/** The production worker entry point, as its own process. */
function startWorkerProcess(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CREDENTIALS_KEYS: f.stack.credentialsKeys,
      STRIPE_API_URL: proxy.url,
      TASK_QUEUE_SUFFIX: f.stack.queueSuffix,
      ALLOW_PRIVATE_PROVIDER_URLS: 'true',
      HEALTH_CHECK_INTERVAL_SECONDS: '3600',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker running')) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
}

describe('a worker killed in the middle of a charge', () => {
  it('is replaced, the charge is retried with the same idempotency key, and the customer is charged once', async () => {
    const m = await setUpMerchant(f);
    child = await startWorkerProcess();
    const { id, workflowId } = await startPayment(f, m);

    // Kill the worker the moment its charge is on the wire.
    for (let i = 0; i < 200 && charges === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(charges).toBe(1);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));

    // The gateway carried the charge out although nobody was there to hear the answer.
    await new Promise((r) => setTimeout(r, HOLD_MS + 300));
    expect(f.stripe.chargeCount(id)).toBe(1);

    await f.stack.startWorker();
    const p = await waitForPayment(f, m, id, undefined, 60_000);
    expect(p.status).toBe('succeeded');
    expect(p.attempts).toHaveLength(1);
    expect(f.stripe.chargeCount(id)).toBe(1);
    expect(charges).toBeGreaterThanOrEqual(2); // the retry reached the gateway and was answered from its idempotency record

    const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const timedOut = (history.events ?? []).some((e) => e.activityTaskTimedOutEventAttributes || e.activityTaskStartedEventAttributes?.attempt === 2);
    expect(timedOut).toBe(true);
  }, 90_000);
});
