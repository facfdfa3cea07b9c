import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { setUpMerchant, startPayment, startPaymentsFixture, STRIPE_KEY, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';
import { spawnEntryPoint, workerEnv, type EntryPointProcess } from '../support/processes.js';

/** A pino destination that keeps every line. */
function captureLines(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  let pending = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
      cb();
    },
  });
  return { stream, lines };
}

let f: PaymentsFixture;
let m: MerchantSetup;
let worker: EntryPointProcess | undefined;

beforeAll(async () => {
  f = await startPaymentsFixture({ startWorker: false });
  m = await setUpMerchant(f);
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await f?.close();
});

describe('API logs', () => {
  it('log a failing request as JSON lines with request and tenant ids, and a database error without its parameters', async () => {
    const { stream, lines } = captureLines();
    const app = f.stack.makeApp({ logger: createLogger('info', {}, { destination: stream }) });
    // A real database error whose parameters carry a payment token and metadata: a constraint this
    // test adds for the length of one request.
    await f.stack.database.db.execute(`alter table payments add constraint logs_test_refuses check (description is distinct from 'refuse me') not valid`);
    try {
      const secretToken = 'pm_secret_token_4f9a1c';
      const res = await request(app)
        .post('/v1/payments')
        .set(m.auth)
        .set('Idempotency-Key', 'logs-test-1')
        .set('X-Request-Id', 'req-logs-test-1')
        .send({ amount: 100, currency: 'EUR', country: 'DE', paymentMethod: { type: 'card', token: secretToken }, description: 'refuse me', metadata: { note: 'private-meta-value' } });
      expect(res.status).toBe(500);

      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.length).toBe(lines.length);
      const unhandled = events.filter((e) => e.msg === 'unhandled error');
      expect(unhandled).toHaveLength(1);
      expect(unhandled[0]).toMatchObject({ level: 'error', requestId: 'req-logs-test-1', tenantId: m.tenantId });
      expect(unhandled[0]!.err).toEqual({ type: 'DrizzleQueryError', statement: expect.stringContaining('insert into "payments"'), code: '23514' });
      const requestLines = events.filter((e) => e.requestId === 'req-logs-test-1' && e.route === '/v1/payments');
      expect(requestLines).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({ tenantId: m.tenantId, status: 500, method: 'POST' });

      const all = lines.join('\n');
      const apiKey = m.auth.Authorization.replace('Bearer ', '');
      for (const secret of [secretToken, 'private-meta-value', 'refuse me', apiKey]) expect(all).not.toContain(secret);
    } finally {
      await f.stack.database.db.execute('alter table payments drop constraint logs_test_refuses');
    }
  });

  it('redacts credentials, tokens and secrets at any depth a caller logs them', () => {
    const { stream, lines } = captureLines();
    const logger = createLogger('info', {}, { destination: stream });
    logger.info('connection tested', {
      headers: { authorization: 'Bearer sk_live_abc' },
      connection: { credentials: { secretKey: 'sk_live_abc' }, settings: { webhookSecret: 'whsec_abc' } },
      token: 'tok_abc',
      key: { keyHash: 'hash_abc' },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/sk_live_abc|whsec_abc|tok_abc|hash_abc/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ token: '[redacted]', headers: { authorization: '[redacted]' } });
  });
});

describe('worker logs', () => {
  it('show each expected gateway failure as one warn line without a stack, and workflow logs through the same logger', async () => {
    worker = spawnEntryPoint('src/workers/main.ts', workerEnv(f.stack, { STRIPE_API_URL: f.stripe.url }));
    await worker.waitFor('worker running');
    const startLine = worker.lines().length;

    // 60 payments: 20 succeed, 20 are declined for good, 20 meet three 503s on Stripe and fall back.
    const run = async (count: number, token: string) =>
      Promise.all(Array.from({ length: count }, async () => (await startPayment(f, m, { paymentMethod: { type: 'card', token } })).id));
    const ids = [...(await run(20, 'pm_card_visa')), ...(await run(20, 'pm_card_chargeDeclined'))];
    for (const id of ids) await waitForPayment(f, m, id);
    f.stripe.failNext({ times: 60, status: 503, pathPrefix: '/v1/payment_intents', method: 'POST' });
    const fallbackIds = await run(20, 'pm_card_visa');
    for (const id of fallbackIds) expect((await waitForPayment(f, m, id)).status).toBe('succeeded');

    const lines = worker.lines().slice(startLine);
    console.log(`[logs] worker wrote ${lines.length} lines for 60 payments`);
    const events = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown> & { error?: Record<string, unknown> };
      } catch {
        throw new Error(`not one JSON event per line: ${l}`);
      }
    });
    const failed = events.filter((e) => e.msg === 'Activity failed');
    const declines = failed.filter((e) => e.error?.type === 'HardDecline');
    const retryables = failed.filter((e) => e.error?.type === 'GatewayRetryable');
    expect(declines).toHaveLength(20);
    expect(retryables).toHaveLength(60);
    for (const e of [...declines, ...retryables]) {
      expect(e.level).toBe('warn');
      expect(e.error).not.toHaveProperty('stack');
      expect(e).not.toHaveProperty('taskToken');
      expect(e).toMatchObject({ activityType: expect.any(String), workflowId: expect.stringMatching(/^payment-/) });
    }
    // The payment workflow's own log.warn calls arrive through the SDK's logger sink, with the run's ids.
    const workflowLines = events.filter((e) => e.msg === 'attempt failed, falling back');
    expect(workflowLines).toHaveLength(20);
    expect(workflowLines[0]).toMatchObject({ level: 'warn', sdkComponent: 'workflow', workflowId: expect.stringMatching(/^payment-/) });

    const all = lines.join('\n');
    for (const secret of [STRIPE_KEY, f.acme.apiKey, f.pending.clientSecret, f.stripe.webhookSecret, f.stack.credentialsKeys.split(':')[1]!]) {
      expect(all).not.toContain(secret);
    }
  }, 240_000);
});
