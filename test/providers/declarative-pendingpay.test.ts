import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCallbackRecorder, type CallbackRecorder } from '../../emulators/gateways/callback-recorder.js';
import { startPendingpayEmulator, type PendingpayEmulator } from '../../emulators/gateways/pendingpay.js';
import {
  createDeclarativeProviderFactory,
  loadProviderDefinitionFile,
  type DeclarativeProviderFactory,
  type ProviderDefinition,
} from '../../src/providers/declarative/index.js';
import {
  GatewayError,
  InvalidCredentialsError,
  WebhookSignatureError,
  type ChargeRequest,
  type PaymentGateway,
} from '../../src/providers/types.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';

let emulator: PendingpayEmulator;
let recorder: CallbackRecorder;
let definition: ProviderDefinition;
let clockOffsetMs = 0;
let seq = 0;

const now = () => Date.now() + clockOffsetMs;

function newFactory(): DeclarativeProviderFactory {
  return createDeclarativeProviderFactory(definition, {
    fetch: createEgressFetch({ allowPrivateNetworks: true }),
    timeoutMs: 2000,
    now,
  });
}

function connect(
  factory: DeclarativeProviderFactory,
  overrides: Record<string, string> = {},
  connectionId = 'c-pp',
): PaymentGateway {
  return factory.create({
    tenantId: 't1',
    connectionId,
    credentials: {
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      webhookSecret: emulator.callbackSecret,
      ...overrides,
    },
    settings: { baseUrl: emulator.url },
  }).payments!;
}

function charge(overrides: Partial<ChargeRequest> = {}): ChargeRequest {
  const paymentId = `pay_pp_${++seq}_${Date.now()}`;
  return {
    paymentId,
    attempt: 1,
    idempotencyKey: `${paymentId}-1`,
    amount: 1050,
    currency: 'EUR',
    country: 'SE',
    paymentMethod: 'tok_success',
    captureMode: 'automatic',
    metadata: {},
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

beforeAll(async () => {
  recorder = await startCallbackRecorder();
  emulator = await startPendingpayEmulator({ callbackUrl: recorder.url, callbackDelayMs: 20 });
  definition = await loadProviderDefinitionFile(join(import.meta.dirname, '../../providers/pendingpay.yaml'));
});

afterAll(async () => {
  await emulator.close();
  await recorder.close();
});

beforeEach(async () => {
  emulator.resetFaults();
  clockOffsetMs = 0;
  await emulator.whenIdle();
  recorder.clear();
});

describe('pendingpay (providers/pendingpay.yaml) against its emulator', () => {
  it('authorizes as pending, then verifies and parses the signed callback', async () => {
    const gateway = connect(newFactory());
    const req = charge();
    const outcome = await gateway.authorize(req);
    expect(outcome.status).toBe('pending');
    expect(outcome.reference).toMatch(/^pp_/);
    const txn = emulator.txns().find((t) => t.ref === outcome.reference);
    expect(txn).toMatchObject({
      amount: 1050,
      currency: 'eur',
      merchant_ref: req.idempotencyKey,
      metadata: { payment_id: req.paymentId },
    });

    const callback = await recorder.next();
    const event = gateway.parseWebhook(callback.rawBody, callback.headers);
    expect(event).toMatchObject({
      type: 'txn.settled',
      reference: outcome.reference,
      paymentId: req.paymentId,
      status: 'succeeded',
    });
    expect(event.eventId).toMatch(/^evt_/);

    await expect(
      gateway.lookup({
        paymentId: req.paymentId,
        attempt: 1,
        idempotencyKey: req.idempotencyKey,
        reference: outcome.reference,
      }),
    ).resolves.toEqual({
      status: 'succeeded',
      reference: outcome.reference,
      amountCaptured: 1050,
    });
    await expect(
      gateway.lookup({ paymentId: req.paymentId, attempt: 1, idempotencyKey: req.idempotencyKey }),
    ).resolves.toMatchObject({
      status: 'succeeded',
      reference: outcome.reference,
    });
  });

  it('reports a rejected transaction as failed in the callback and the lookup', async () => {
    const gateway = connect(newFactory());
    const outcome = await gateway.authorize(charge({ paymentMethod: 'tok_insufficient_funds' }));
    const callback = await recorder.next();
    const event = gateway.parseWebhook(callback.rawBody, callback.headers);
    expect(event).toMatchObject({ reference: outcome.reference, status: 'failed', type: 'txn.rejected' });
    await expect(
      gateway.lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'k', reference: outcome.reference }),
    ).resolves.toMatchObject({
      status: 'failed',
      declineCode: 'insufficient_funds',
    });
  });

  it('rejects tampered, mis-signed, stale and unsigned callbacks', async () => {
    const gateway = connect(newFactory());
    await gateway.authorize(charge());
    const { rawBody, headers } = await recorder.next();
    const tampered = Buffer.from(rawBody.toString('utf8').replace('"settled"', '"rejected"'));
    expect(tampered.equals(rawBody)).toBe(false);
    expect(() => gateway.parseWebhook(tampered, headers)).toThrow(WebhookSignatureError);
    expect(() =>
      gateway.parseWebhook(rawBody, { ...headers, 'x-pending-signature': 'ab'.repeat(32) }),
    ).toThrow(/does not match/);
    expect(() => gateway.parseWebhook(rawBody, { ...headers, 'x-pending-signature': undefined })).toThrow(
      /Missing X-Pending-Signature/,
    );
    expect(() => gateway.parseWebhook(rawBody, { ...headers, 'x-pending-timestamp': '1700000000' })).toThrow(
      /tolerance/,
    );
    const otherSecret = connect(newFactory(), { webhookSecret: 'whsec_someone_else' });
    expect(() => otherSecret.parseWebhook(rawBody, headers)).toThrow(WebhookSignatureError);
    clockOffsetMs = 301_000;
    expect(() => gateway.parseWebhook(rawBody, headers)).toThrow(/tolerance/);
    clockOffsetMs = 0;
    expect(gateway.parseWebhook(rawBody, headers).status).toBe('succeeded');
  });

  it('fetches one OAuth2 token and reuses it across calls and clients of the same connection', async () => {
    const factory = newFactory();
    const before = emulator.tokensIssued();
    const gateway = connect(factory);
    await gateway.verifyCredentials();
    await gateway.authorize(charge());
    await connect(factory).lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'none-1' });
    expect(emulator.tokensIssued() - before).toBe(1);
    // Another connection gets its own token.
    await connect(factory, {}, 'c-pp-2').verifyCredentials();
    expect(emulator.tokensIssued() - before).toBe(2);
  });

  it('refreshes the token shortly before expires_in', async () => {
    const factory = newFactory();
    const gateway = connect(factory);
    const before = emulator.tokensIssued();
    await gateway.verifyCredentials();
    clockOffsetMs = 3600_000 - 30_000; // inside the refresh margin of a 3600 s token
    await gateway.verifyCredentials();
    expect(emulator.tokensIssued() - before).toBe(2);
    await gateway.verifyCredentials();
    expect(emulator.tokensIssued() - before).toBe(2);
  });

  it('refreshes once on a 401 and retries the request, charging once', async () => {
    const factory = newFactory();
    const gateway = connect(factory);
    await gateway.verifyCredentials();
    const before = emulator.tokensIssued();
    emulator.revokeTokens();
    const req = charge();
    await expect(gateway.authorize(req)).resolves.toMatchObject({ status: 'pending' });
    expect(emulator.tokensIssued() - before).toBe(1);
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);
  });

  it('refuses bad client credentials without echoing the secret', async () => {
    const gateway = connect(newFactory(), { clientSecret: 'pp_wrong_secret_123' }, 'c-bad');
    const err = await rejection(gateway.verifyCredentials());
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect((err as Error).message).not.toContain('pp_wrong_secret_123');
  });

  it('classifies an unavailable token endpoint as retryable (the payment was not sent)', async () => {
    emulator.failNext(1, 503, { path: '/oauth/token' });
    const req = charge();
    const err = await rejection(connect(newFactory(), {}, 'c-token-down').authorize(req));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ classification: 'retryable', code: 'token_unavailable' });
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(0);
  });

  it('classifies 503 and 429 as retryable', async () => {
    const gateway = connect(newFactory());
    await gateway.verifyCredentials();
    emulator.failNext(1, 503, { path: '/txns' });
    await expect(rejection(gateway.authorize(charge()))).resolves.toMatchObject({
      classification: 'retryable',
      httpStatus: 503,
    });
    emulator.failNext(1, 429, { path: '/txns' });
    await expect(rejection(gateway.authorize(charge()))).resolves.toMatchObject({
      classification: 'retryable',
      code: 'too_many_requests',
      httpStatus: 429,
    });
  });

  it('classifies a dropped connection as ambiguous; the lookup by merchant reference finds one transaction', async () => {
    const gateway = connect(newFactory());
    await gateway.verifyCredentials();
    const req = charge();
    emulator.dropNext(1, { path: '/txns' });
    await expect(rejection(gateway.authorize(req))).resolves.toMatchObject({ classification: 'ambiguous' });
    const found = await gateway.lookup({
      paymentId: req.paymentId,
      attempt: 1,
      idempotencyKey: req.idempotencyKey,
    });
    expect(found?.reference).toMatch(/^pp_/);
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);
    const retried = await gateway.authorize(req);
    expect(retried.reference).toBe(found?.reference);
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);
  });

  it('captures a manual authorization, refunds it, and voids another', async () => {
    const gateway = connect(newFactory());
    const auth = await gateway.authorize(charge({ captureMode: 'manual' }));
    await emulator.whenIdle();
    await expect(
      gateway.lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'k', reference: auth.reference }),
    ).resolves.toMatchObject({
      status: 'authorized',
    });
    await expect(gateway.capture(auth.reference, 1000, `${auth.reference}-cap`, 'EUR')).resolves.toMatchObject({
      status: 'succeeded',
      amountCaptured: 1000,
    });
    const refund = await gateway.refund({
      reference: auth.reference,
      amount: 400,
      currency: 'EUR',
      idempotencyKey: `${auth.reference}-ref`,
      paymentId: 'p',
    });
    expect(refund).toEqual({ status: 'succeeded', reference: expect.stringMatching(/^ppr_/) as string });

    const other = await gateway.authorize(charge({ captureMode: 'manual' }));
    await expect(gateway.cancel(other.reference, `${other.reference}-void`)).resolves.toMatchObject({
      status: 'canceled',
    });
  });

  it('takes the callback URL from the /_emulator/callback endpoint', async () => {
    const second = await startCallbackRecorder();
    try {
      const res = await fetch(`${emulator.url}/_emulator/callback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: second.url }),
      });
      expect(res.status).toBe(200);
      const gateway = connect(newFactory());
      const outcome = await gateway.authorize(charge());
      const callback = await second.next();
      const event = gateway.parseWebhook(callback.rawBody, callback.headers);
      expect(event.reference).toBe(outcome.reference);
    } finally {
      emulator.setCallback(recorder.url);
      await second.close();
    }
  });
});
