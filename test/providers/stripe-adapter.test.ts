import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import {
  signWebhookPayload,
  startStripeEmulator,
  type RunningStripeEmulator,
} from '../../emulators/stripe/index.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import {
  GatewayError,
  InvalidCredentialsError,
  WebhookSignatureError,
  type ChargeRequest,
  type PaymentGateway,
  type ProviderFactory,
} from '../../src/providers/types.js';

const SECRET_KEY = 'sk_test_adapter_suite_0001';
const WEBHOOK_SECRET = 'whsec_adapter_suite_signing';

let emulator: RunningStripeEmulator;
let factory: ProviderFactory;
let gateway: PaymentGateway;
/** Receives every emulator event: the emulator posts them here, raw, with Stripe's signature. */
let received: { body: Buffer; headers: Record<string, string | string[] | undefined> }[];
let receiverServer: import('node:http').Server;

function gatewayFor(credentials: Record<string, string>, apiUrl = emulator.url): PaymentGateway {
  return createStripeProviderFactory({ apiUrl }).create({
    tenantId: 't1',
    connectionId: 'c1',
    credentials,
    settings: {},
  }).payments!;
}

let sequence = 0;
function chargeRequest(overrides: Partial<ChargeRequest> = {}): ChargeRequest {
  const paymentId = overrides.paymentId ?? `pay_${++sequence}`;
  const attempt = overrides.attempt ?? 1;
  return {
    paymentId,
    attempt,
    idempotencyKey: `${paymentId}-${attempt}`,
    amount: 2000,
    currency: 'USD',
    country: 'US',
    paymentMethod: 'pm_card_visa',
    captureMode: 'automatic',
    metadata: { tenant_id: 't1' },
    ...overrides,
  };
}

/** Rejections as values, to assert on their class and fields. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  received = [];
  const { createServer } = await import('node:http');
  receiverServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiverServer.listen(0, '127.0.0.1', resolve));
  const receiverPort = (receiverServer.address() as AddressInfo).port;
  emulator = await startStripeEmulator({
    apiKeys: [SECRET_KEY],
    webhookUrl: `http://127.0.0.1:${receiverPort}/stripe`,
    webhookSecret: WEBHOOK_SECRET,
  });
  factory = createStripeProviderFactory({ apiUrl: emulator.url });
  gateway = gatewayFor({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET });
});

afterEach(() => {
  emulator.reset();
  received.length = 0;
});

afterAll(async () => {
  await emulator.close();
  await new Promise<void>((resolve) => receiverServer.close(() => resolve()));
});

describe('Stripe provider factory', () => {
  it('is the stripe provider and validates credentials, naming the faulty field', () => {
    expect(factory.type).toBe('stripe');
    expect(factory.validateCredentials({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET })).toEqual({
      secretKey: SECRET_KEY,
      webhookSecret: WEBHOOK_SECRET,
    });
    expect(factory.validateCredentials({ secretKey: SECRET_KEY })).toEqual({ secretKey: SECRET_KEY });

    const missing = (() => {
      try {
        factory.validateCredentials({ webhookSecret: WEBHOOK_SECRET });
      } catch (error) {
        return error;
      }
    })();
    expect(missing).toBeInstanceOf(ZodError);
    expect((missing as ZodError).issues.map((i) => i.path.join('.'))).toEqual(['secretKey']);
    expect((missing as ZodError).message).toContain('secretKey is required');

    expect(() => factory.validateCredentials({ secretKey: 'pk_test_publishable' })).toThrow(
      /secretKey must be a Stripe secret key/,
    );
    expect(() => factory.validateCredentials({ secretKey: SECRET_KEY, webhookSecret: 'nope' })).toThrow(
      /webhookSecret/,
    );
  });

  it('refuses a malformed apiUrl at construction', () => {
    expect(() => createStripeProviderFactory({ apiUrl: 'not a url' })).toThrow(/apiUrl/);
    expect(() => createStripeProviderFactory({ apiUrl: 'ftp://127.0.0.1:1' })).toThrow(/http or https/);
  });
});

describe('Stripe gateway: charges', () => {
  it('verifies credentials and reports health', async () => {
    expect(await gateway.verifyCredentials()).toEqual({ account: 'stripe (livemode=false)' });
    const health = await gateway.checkHealth();
    expect(health.ok).toBe(true);
    expect(health.latencyMs).toBeGreaterThanOrEqual(0);

    emulator.failNext({ status: 503, pathPrefix: '/v1/balance' });
    expect(await gateway.checkHealth()).toMatchObject({
      ok: false,
      detail: 'retryable: http_503 (HTTP 503)',
    });
  });

  it('maps a refused key to InvalidCredentialsError without leaking the key', async () => {
    const wrongKey = 'sk_test_wrong_key_for_suite_9876';
    const bad = gatewayFor({ secretKey: wrongKey });
    const error = await failureOf(bad.verifyCredentials());
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect((error as Error).message).not.toContain('9876');
    const charge = await failureOf(bad.authorize(chargeRequest()));
    expect(charge).toBeInstanceOf(InvalidCredentialsError);
    const health = await bad.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/^invalid_credentials/);
    expect(health.detail).not.toContain(wrongKey);
  });

  it('authorizes with automatic capture, tagging the PaymentIntent with the payment and attempt', async () => {
    const req = chargeRequest({ customerId: 'cus_Abc123', description: 'order 9' });
    const outcome = await gateway.authorize(req);
    expect(outcome).toMatchObject({ status: 'succeeded', amountCaptured: 2000 });
    expect(outcome.reference).toMatch(/^pi_/);
    const [intent] = emulator.paymentIntents();
    expect(intent).toMatchObject({
      id: outcome.reference,
      amount: 2000,
      currency: 'usd',
      customer: 'cus_Abc123',
      description: 'order 9',
      capture_method: 'automatic',
      metadata: { tenant_id: 't1', payment_id: req.paymentId, attempt_key: req.idempotencyKey },
    });
    expect(emulator.requests().find((r) => r.path === '/v1/payment_intents')?.idempotencyKey).toBe(
      req.idempotencyKey,
    );
  });

  it('keeps a non-Stripe customer id in metadata', async () => {
    await gateway.authorize(chargeRequest({ customerId: 'local-customer-7' }));
    const [intent] = emulator.paymentIntents();
    expect(intent?.customer).toBeNull();
    expect(intent?.metadata['customer_id']).toBe('local-customer-7');
  });

  it('authorizes with manual capture, then captures and refunds within the captured amount', async () => {
    const req = chargeRequest({ captureMode: 'manual', amount: 5000 });
    const authorized = await gateway.authorize(req);
    expect(authorized.status).toBe('authorized');
    expect(authorized.amountCaptured).toBeUndefined();

    const captured = await gateway.capture(authorized.reference, 4000, `${req.paymentId}-capture`, 'USD');
    expect(captured).toMatchObject({
      status: 'succeeded',
      amountCaptured: 4000,
      reference: authorized.reference,
    });

    const refund = await gateway.refund({
      reference: authorized.reference,
      amount: 1500,
      currency: 'USD',
      idempotencyKey: `${req.paymentId}-refund-1`,
      paymentId: req.paymentId,
    });
    expect(refund.status).toBe('succeeded');
    expect(refund.reference).toMatch(/^re_/);
    const again = await gateway.refund({
      reference: authorized.reference,
      amount: 1500,
      currency: 'USD',
      idempotencyKey: `${req.paymentId}-refund-1`,
      paymentId: req.paymentId,
    });
    expect(again.reference).toBe(refund.reference);

    const over = await failureOf(
      gateway.refund({
        reference: authorized.reference,
        amount: 2600,
        currency: 'USD',
        idempotencyKey: `${req.paymentId}-refund-2`,
        paymentId: req.paymentId,
      }),
    );
    expect(over).toBeInstanceOf(GatewayError);
    expect(over).toMatchObject({ classification: 'hard_decline', code: 'amount_too_large', httpStatus: 400 });
  });

  it('cancels an authorisation', async () => {
    const authorized = await gateway.authorize(chargeRequest({ captureMode: 'manual' }));
    expect(await gateway.cancel(authorized.reference, 'cancel-1')).toMatchObject({
      status: 'canceled',
      reference: authorized.reference,
    });
  });

  it('reports 3-D Secure as requires_action and asynchronous payments as pending', async () => {
    expect(
      (await gateway.authorize(chargeRequest({ paymentMethod: 'pm_card_threeDSecureRequired' }))).status,
    ).toBe('requires_action');
    expect((await gateway.authorize(chargeRequest({ paymentMethod: 'pm_emulator_processing' }))).status).toBe(
      'pending',
    );
  });
});

describe('Stripe gateway: error classification', () => {
  it('classifies declines as hard declines with the decline code', async () => {
    const generic = await failureOf(
      gateway.authorize(chargeRequest({ paymentMethod: 'pm_card_chargeDeclined' })),
    );
    expect(generic).toBeInstanceOf(GatewayError);
    expect(generic).toMatchObject({
      classification: 'hard_decline',
      code: 'generic_decline',
      httpStatus: 402,
    });
    const funds = await failureOf(
      gateway.authorize(chargeRequest({ paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' })),
    );
    expect(funds).toMatchObject({ classification: 'hard_decline', code: 'insufficient_funds' });
  });

  it.each([
    [429, 'retryable', 'rate_limit'],
    [502, 'retryable', 'http_502'],
    [503, 'retryable', 'http_503'],
    [504, 'retryable', 'http_504'],
    [500, 'ambiguous', 'http_500'],
  ] as const)('classifies HTTP %i as %s', async (status, classification, code) => {
    emulator.failNext({ status, pathPrefix: '/v1/payment_intents' });
    const req = chargeRequest();
    const error = await failureOf(gateway.authorize(req));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ classification, code, httpStatus: status });
    expect(emulator.chargeCount(req.paymentId)).toBe(0);
  });

  it('classifies a request Stripe refuses as invalid as a hard decline', async () => {
    const outcome = await gateway.authorize(chargeRequest());
    const error = await failureOf(gateway.capture(outcome.reference, 100, 'capture-x', 'USD'));
    expect(error).toMatchObject({
      classification: 'hard_decline',
      code: 'payment_intent_unexpected_state',
      httpStatus: 400,
    });
  });

  it('classifies a reused idempotency key with other parameters as idempotency_error', async () => {
    const req = chargeRequest();
    await gateway.authorize(req);
    const error = await failureOf(gateway.authorize({ ...req, amount: req.amount + 1 }));
    expect(error).toMatchObject({ classification: 'hard_decline', code: 'idempotency_error' });
  });

  it('classifies a connection reset after processing as ambiguous, and lookup finds the charge', async () => {
    emulator.dropNext({ times: 2, pathPrefix: '/v1/payment_intents', method: 'POST' });
    const req = chargeRequest();
    const error = await failureOf(gateway.authorize(req));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ classification: 'ambiguous', code: 'connection_error' });

    const found = await gateway.lookup({
      paymentId: req.paymentId,
      attempt: req.attempt,
      idempotencyKey: req.idempotencyKey,
    });
    expect(found).toMatchObject({ status: 'succeeded', amountCaptured: 2000 });
    expect(found?.reference).toBe(emulator.paymentIntents()[0]?.id);
    expect(emulator.chargeCount(req.paymentId)).toBe(1);

    // Retrying the attempt with its key replays Stripe's result instead of charging again.
    const retried = await gateway.authorize(req);
    expect(retried.reference).toBe(found?.reference);
    expect(emulator.chargeCount(req.paymentId)).toBe(1);
  });

  it('classifies a refused connection as retryable (nothing was sent)', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failureOf(
      gatewayFor({ secretKey: SECRET_KEY }, `http://127.0.0.1:${port}`).authorize(chargeRequest()),
    );
    expect(error).toMatchObject({ classification: 'retryable', code: 'connection_refused' });
  });

  it('classifies a timeout as ambiguous', async () => {
    // Accepts the request and never answers.
    const silent: NetServer = createNetServer((socket) => socket.on('data', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const slow = createStripeProviderFactory({ apiUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 }).create(
        {
          tenantId: 't1',
          connectionId: 'c1',
          credentials: { secretKey: SECRET_KEY },
          settings: {},
        },
      ).payments!;
      const error = await failureOf(slow.authorize(chargeRequest()));
      expect(error).toMatchObject({ classification: 'ambiguous', code: 'connection_error' });
      expect((error as Error).message).toMatch(/timeout/);
    } finally {
      silent.close();
    }
  });

  it('never puts the secret key in a classified error message', async () => {
    emulator.failNext({ status: 500 });
    const error = await failureOf(gateway.authorize(chargeRequest()));
    expect((error as Error).message).not.toContain(SECRET_KEY);
  });
});

describe('Stripe gateway: lookup', () => {
  it('retrieves by reference and returns null for unknown attempts', async () => {
    const req = chargeRequest({ paymentMethod: 'pm_card_chargeDeclined' });
    await failureOf(gateway.authorize(req));
    const declined = await gateway.lookup({
      paymentId: req.paymentId,
      attempt: 1,
      idempotencyKey: req.idempotencyKey,
    });
    expect(declined).toMatchObject({ status: 'failed', declineCode: 'generic_decline' });
    const byReference = await gateway.lookup({
      paymentId: req.paymentId,
      attempt: 1,
      idempotencyKey: 'ignored',
      reference: declined?.reference ?? '',
    });
    expect(byReference?.reference).toBe(declined?.reference);

    expect(
      await gateway.lookup({ paymentId: 'p', attempt: 1, idempotencyKey: "never-sent-'quoted'" }),
    ).toBeNull();
    expect(
      await gateway.lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'x', reference: 'pi_doesnotexist' }),
    ).toBeNull();
  });

  it('classifies lookup failures too', async () => {
    emulator.failNext({ status: 503, pathPrefix: '/v1/payment_intents/search' });
    const error = await failureOf(gateway.lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'k' }));
    expect(error).toMatchObject({ classification: 'retryable' });
  });
});

describe('Stripe gateway: webhooks', () => {
  function paymentIdOf(r: (typeof received)[number]): string | undefined {
    try {
      return gateway.parseWebhook(r.body, r.headers).paymentId;
    } catch {
      return undefined;
    }
  }

  /** The delivery of `type` about our payment: a late event of an earlier test may arrive after the reset. */
  async function deliveredEvent(type: string, paymentId: string) {
    return waitFor(() =>
      received.find(
        (r) =>
          (JSON.parse(r.body.toString('utf8')) as { type: string }).type === type &&
          paymentIdOf(r) === paymentId,
      ),
    );
  }

  it('accepts a genuine PaymentIntent event and maps it', async () => {
    const req = chargeRequest();
    const outcome = await gateway.authorize(req);
    const delivery = await deliveredEvent('payment_intent.succeeded', req.paymentId);
    const parsed = gateway.parseWebhook(delivery.body, delivery.headers);
    expect(parsed).toEqual({
      eventId: expect.stringMatching(/^evt_/),
      type: 'payment_intent.succeeded',
      reference: outcome.reference,
      paymentId: req.paymentId,
      status: 'succeeded',
    });
  });

  it('maps failures, authorisations and refunds', async () => {
    const declined = chargeRequest({ paymentMethod: 'pm_card_chargeDeclined' });
    await failureOf(gateway.authorize(declined));
    const failed = await deliveredEvent('payment_intent.payment_failed', declined.paymentId);
    expect(gateway.parseWebhook(failed.body, failed.headers)).toMatchObject({
      paymentId: declined.paymentId,
      status: 'failed',
    });

    const manual = chargeRequest({ captureMode: 'manual' });
    const authorized = await gateway.authorize(manual);
    const capturable = await deliveredEvent('payment_intent.amount_capturable_updated', manual.paymentId);
    expect(gateway.parseWebhook(capturable.body, capturable.headers)).toMatchObject({
      status: 'authorized',
      reference: authorized.reference,
    });

    await gateway.capture(authorized.reference, 2000, 'cap-1', 'USD');
    await gateway.refund({
      reference: authorized.reference,
      amount: 500,
      currency: 'USD',
      idempotencyKey: 'ref-1',
      paymentId: manual.paymentId,
    });
    const refund = await deliveredEvent('refund.created', manual.paymentId);
    const mapped = gateway.parseWebhook(refund.body, refund.headers);
    expect(mapped).toEqual({
      eventId: expect.stringMatching(/^evt_/),
      type: 'refund.created',
      reference: authorized.reference,
      paymentId: manual.paymentId,
    });
  });

  it('rejects a tampered body, a wrong secret, a stale timestamp and a missing signature', async () => {
    const charge = chargeRequest({ amount: 3333 });
    await gateway.authorize(charge);
    const delivery = await deliveredEvent('payment_intent.succeeded', charge.paymentId);
    const tampered = Buffer.from(delivery.body.toString('utf8').replace('3333', '1'));
    expect(() => gateway.parseWebhook(tampered, delivery.headers)).toThrow(WebhookSignatureError);

    const otherSecret = gatewayFor({ secretKey: SECRET_KEY, webhookSecret: 'whsec_someone_else' });
    expect(() => otherSecret.parseWebhook(delivery.body, delivery.headers)).toThrow(WebhookSignatureError);

    const payload = delivery.body.toString('utf8');
    const stale = signWebhookPayload(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 301);
    expect(() => gateway.parseWebhook(delivery.body, { 'stripe-signature': stale })).toThrow(
      WebhookSignatureError,
    );
    const fresh = signWebhookPayload(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 200);
    expect(gateway.parseWebhook(delivery.body, { 'Stripe-Signature': fresh }).type).toBe(
      'payment_intent.succeeded',
    );

    expect(() => gateway.parseWebhook(delivery.body, {})).toThrow(WebhookSignatureError);
    const noSecret = gatewayFor({ secretKey: SECRET_KEY });
    expect(() => noSecret.parseWebhook(delivery.body, delivery.headers)).toThrow(
      /No Stripe webhook signing secret/,
    );
  });

  it('matches what the official SDK itself signs', () => {
    const payload = JSON.stringify({
      id: 'evt_sdk',
      object: 'event',
      type: 'charge.refunded',
      data: { object: { object: 'charge', payment_intent: 'pi_1', metadata: {} } },
    });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    expect(gateway.parseWebhook(Buffer.from(payload), { 'stripe-signature': header })).toEqual({
      eventId: 'evt_sdk',
      type: 'charge.refunded',
      reference: 'pi_1',
    });
  });
});
