import { createServer, request as httpRequest, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantShareRefusals } from '../../src/metrics/worker-metrics.js';
import { TenantCallLimiter } from '../../src/workers/tenant-share.js';
import { paymentBody, setUpMerchant, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';

describe('TenantCallLimiter', () => {
  it('gives a tenant its share, counts per tenant, and frees a call once', () => {
    const limiter = new TenantCallLimiter(2);
    const a1 = limiter.tryAcquire('a');
    const a2 = limiter.tryAcquire('a');
    expect(a1 && a2).toBeTruthy();
    expect(limiter.tryAcquire('a')).toBeNull();
    a1!();
    a1!(); // a second release of the same call frees nothing more
    expect(limiter.inFlight('a')).toBe(1);
    expect(limiter.tryAcquire('a')).not.toBeNull();
    expect(limiter.tryAcquire('a')).toBeNull();
  });

  it("lends idle capacity past the share, but never the last share another tenant needs", () => {
    const limiter = new TenantCallLimiter(2, 8);
    // Alone on the worker, tenant a borrows up to capacity - share = 6.
    const a = Array.from({ length: 6 }, () => limiter.tryAcquire('a'));
    expect(a.every(Boolean)).toBe(true);
    expect(limiter.tryAcquire('a')).toBeNull();
    // b still gets its whole share from the 2 left.
    expect(limiter.tryAcquire('b')).not.toBeNull();
    expect(limiter.tryAcquire('b')).not.toBeNull();
    // Past its share b may not borrow: nothing is spare.
    expect(limiter.tryAcquire('b')).toBeNull();
    // a, over its share, gets no slot freed by b until the total is back under capacity - share.
    a[0]!();
    expect(limiter.tryAcquire('a')).toBeNull();
    a[1]!();
    a[2]!();
    expect(limiter.tryAcquire('a')).not.toBeNull();
  });
});

/**
 * A gateway that hangs: every request is held (the caller waits) until release(), then forwarded to
 * the real emulator. Counts how many are held at once.
 */
function startGate(target: string): Promise<{ url: string; held: () => number; maxHeld: () => number; release: () => void; server: Server }> {
  let open = false;
  let held = 0;
  let maxHeld = 0;
  const waiting: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const forward = () => {
        const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      };
      if (open) return forward();
      held += 1;
      maxHeld = Math.max(maxHeld, held);
      waiting.push(() => {
        held -= 1;
        forward();
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
        held: () => held,
        maxHeld: () => maxHeld,
        release: () => {
          open = true;
          for (const w of waiting.splice(0)) w();
        },
        server,
      });
    }),
  );
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a tenant's share of the worker (hanging gateway)", () => {
  const SLOTS = 6;
  const SHARE = 2;
  let f: PaymentsFixture;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let a: MerchantSetup;
  let b: { auth: { Authorization: string } };

  beforeAll(async () => {
    f = await startPaymentsFixture({ activitySlots: SLOTS, tenantProviderCalls: SHARE });
    gate = await startGate(f.acme.url);
    a = await setUpMerchant(f, (m) => [{ name: 'acme', priority: 10, connectionIds: [m.acmeId] }]);
    const tb = await f.stack.createTenant('B');
    const conn = await request(f.stack.app)
      .post('/v1/connections')
      .set(tb.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'AcmePay behind a hanging link', credentials: { accountId: f.acme.accountId, apiKey: f.acme.apiKey }, settings: { baseUrl: gate.url } })
      .expect(201);
    await request(f.stack.app).put('/v1/routing/rules').set(tb.auth).send({ rules: [{ name: 'all', priority: 10, connectionIds: [conn.body.id] }] }).expect(200);
    b = { auth: tb.auth };
  });

  afterAll(async () => {
    gate?.release();
    await f?.close();
    await new Promise((r) => gate?.server.close(r));
  });

  it("keeps the other tenant's payments fast, and the flooding tenant's own payments are not lost", async () => {
    // B floods: three times the worker's slots of charges to a gateway that does not answer.
    const bPayments: string[] = [];
    for (let i = 0; i < SLOTS * 3; i++) {
      const res = await request(f.stack.app).post('/v1/payments').set(b.auth).set('Idempotency-Key', randomUUID()).send(paymentBody());
      expect(res.status).toBe(202);
      bPayments.push(res.body.id);
    }
    await until(() => gate.held() >= SLOTS - SHARE, 20_000, "B's calls to reach the hanging gateway");

    // A's payment runs while B's calls hang: it must not wait for B's 15 s charge timeouts.
    const started = Date.now();
    const res = await request(f.stack.app).post('/v1/payments?wait=10').set(a.auth).set('Idempotency-Key', randomUUID()).send(paymentBody());
    const tookMs = Date.now() - started;
    expect(res.body.status).toBe('succeeded');
    expect(tookMs).toBeLessThan(5_000);
    // B never had more calls running than it may borrow (all but one share of the slots), although it
    // had many more waiting; the last share stayed free for A.
    expect(gate.maxHeld()).toBe(SLOTS - SHARE);
    const refused = (await tenantShareRefusals.get()).values.find((v) => v.labels.activity === 'chargeGateway')?.value ?? 0;
    expect(refused).toBeGreaterThan(0);

    // A's run carries its tenant's fairness key (activities inherit it).
    const description = await f.stack.temporal.workflow.getHandle(res.body.workflowId ?? `payment-${res.body.id}`).describe();
    expect(description.raw.workflowExecutionInfo?.priority?.fairnessKey).toBe(a.tenantId);

    // When B's gateway answers again, every one of B's payments goes through: the refused calls
    // waited in their workflows and were made again, none was failed for being over the share.
    gate.release();
    for (const id of bPayments) {
      const p = await waitForPayment(f, { ...a, auth: b.auth }, id, ['succeeded', 'failed', 'authorized', 'canceled'], 90_000);
      expect(p.status, JSON.stringify(p.attempts)).toBe('succeeded');
      expect(p.attempts).toHaveLength(1);
    }
  }, 150_000);
});
