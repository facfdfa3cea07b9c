import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * X-Request-Id is the caller's correlation id, not an idempotency key: two connection tests sent with
 * the same one (a client that reuses it, or a retry while the first test still runs) are two tests,
 * never a 500 from a workflow id that is already taken.
 */

/** A provider that holds every request until released, so a test is still running when the next one starts. */
class HeldProvider {
  readonly server: Server;
  private readonly held: ServerResponse[] = [];
  private released = false;
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(private readonly answer: { status: number; body: object }) {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (this.released) return this.respond(res);
        this.held.push(res);
        for (const w of this.waiters.filter((w) => this.held.length >= w.count)) w.resolve();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `count` requests are being held. */
  holding(count: number): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  release(): void {
    this.released = true;
    for (const res of this.held.splice(0)) this.respond(res);
  }

  private respond(res: ServerResponse): void {
    res.writeHead(this.answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(this.answer.body));
  }
}

let stack: TestStack;
let auth: { Authorization: string };
const stripe = new HeldProvider({ status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } } });
const erp = new HeldProvider({ status: 200, body: { kayitlar: [{ StokKodu: 'A-1', UrunAdi: 'Simit' }] } });
let erpUrl: string;

beforeAll(async () => {
  const stripeUrl = await stripe.start();
  erpUrl = await erp.start();
  stack = await startTestStack({ providers: [createStripeProviderFactory({ apiUrl: stripeUrl })] });
  ({ auth } = await stack.createTenant('Request id reuse'));
});
afterAll(async () => {
  await stack?.close();
  stripe.server.close();
  erp.server.close();
});

/**
 * Sends two tests with one X-Request-Id, the second while the first is still running at the provider,
 * then lets the provider answer; returns both responses.
 */
async function twoTestsWithOneRequestId(path: string, provider: HeldProvider) {
  const send = () => request(stack.app).post(path).set(auth).set('X-Request-Id', 'req-reused-1').then((res) => res);
  const first = send();
  await provider.holding(1);
  const second = send();
  // Without the fix the second answers at once (500); with it, its own run reaches the provider too.
  await Promise.race([second, provider.holding(2)]);
  provider.release();
  return Promise.all([first, second]);
}

describe('a reused X-Request-Id on the test endpoints', () => {
  it('POST /v1/connections/:id/test runs a second test, with its own workflow', async () => {
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .send({ provider: 'stripe', code: 'stripe-reqid', name: 'Stripe', credentials: { secretKey: 'sk_test_reqid' } })
      .expect(201);
    const [a, b] = await twoTestsWithOneRequestId(`/v1/connections/${conn.body.id}/test`, stripe);
    for (const res of [a, b]) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ status: 'completed', ok: false, error: { code: 'InvalidCredentials' } });
      expect(res.headers['x-request-id']).toBe('req-reused-1');
    }
    expect(a.body.workflowId).not.toBe(b.body.workflowId);
  });

  it('POST /v1/integrations/:id/test-connection runs a second test, with its own workflow', async () => {
    const { auth: _auth, ...connector } = defterIntegration(erpUrl).connector;
    const created = await request(stack.app)
      .post('/v1/integrations')
      .set(auth)
      .send({ ...defterIntegration(erpUrl), type: 'webhook', connector })
      .expect(201);
    const [a, b] = await twoTestsWithOneRequestId(`/v1/integrations/${created.body.id}/test-connection`, erp);
    for (const res of [a, b]) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ status: 'completed', ok: true, records: 1 });
    }
    expect(a.body.workflowId).not.toBe(b.body.workflowId);
  });
});
