import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAcmepayEmulator, type AcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import {
  createDeclarativeProviderFactory,
  loadProviderDefinitionFile,
} from '../../src/providers/declarative/index.js';
import {
  GatewayError,
  InvalidCredentialsError,
  type ChargeRequest,
  type PaymentGateway,
  type ProviderFactory,
} from '../../src/providers/types.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';

let emulator: AcmepayEmulator;
let factory: ProviderFactory;
let gateway: PaymentGateway;
let seq = 0;

function charge(overrides: Partial<ChargeRequest> = {}): ChargeRequest {
  const paymentId = overrides.paymentId ?? `pay_acme_${++seq}_${Date.now()}`;
  const attempt = overrides.attempt ?? 1;
  return {
    paymentId,
    attempt,
    idempotencyKey: `${paymentId}-${attempt}`,
    amount: 1050,
    currency: 'EUR',
    country: 'DE',
    paymentMethod: 'tok_success',
    captureMode: 'automatic',
    metadata: {},
    ...overrides,
  };
}

async function gatewayError(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

function connect(credentials: Record<string, string>): PaymentGateway {
  return factory.create({
    tenantId: 't1',
    connectionId: 'c-acme',
    credentials,
    settings: { baseUrl: emulator.url },
  }).payments!;
}

beforeAll(async () => {
  emulator = await startAcmepayEmulator();
  const definition = await loadProviderDefinitionFile(
    join(import.meta.dirname, '../../providers/acmepay.yaml'),
  );
  factory = createDeclarativeProviderFactory(definition, {
    fetch: createEgressFetch({ allowPrivateNetworks: true }),
    timeoutMs: 2000,
  });
  gateway = connect({ accountId: emulator.accountId, apiKey: emulator.apiKey });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.resetFaults();
});

describe('acmepay (providers/acmepay.yaml) against its emulator', () => {
  it('verifies credentials and refuses a wrong key without echoing it', async () => {
    await expect(gateway.verifyCredentials()).resolves.toEqual({ account: 'AcmePay demo merchant' });
    const bad = connect({ accountId: emulator.accountId, apiKey: 'sk_wrong_secret_value' });
    const err = await bad.verifyCredentials().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect((err as Error).message).not.toContain('sk_wrong_secret_value');
  });

  it('validates credentials naming the missing field', () => {
    expect(() => factory.validateCredentials({ accountId: 'acct_demo' })).toThrow(/apiKey/);
    expect(factory.validateCredentials({ accountId: 'a', apiKey: 'k', extra: 'x' })).toEqual({
      accountId: 'a',
      apiKey: 'k',
    });
  });

  it('authorizes with decimal amounts in major units and an upper-case currency', async () => {
    const req = charge({ currency: 'eur', description: 'two coffees' });
    const outcome = await gateway.authorize(req);
    expect(outcome).toMatchObject({ status: 'succeeded', amountCaptured: 1050 });
    expect(outcome.reference).toMatch(/^acme_/);
    const sent = emulator.payments().find((p) => p.id === outcome.reference);
    expect(sent).toMatchObject({
      amount: '10.50',
      currency: 'EUR',
      merchant_reference: req.idempotencyKey,
      description: 'two coffees',
    });
    expect(sent?.metadata).toEqual({ payment_id: req.paymentId, attempt: '1' });
  });

  it('uses the currency exponent (JPY has no decimals, KWD three)', async () => {
    const yen = await gateway.authorize(charge({ currency: 'JPY', amount: 1050 }));
    expect(emulator.payments().find((p) => p.id === yen.reference)?.amount).toBe('1050');
    expect(yen.amountCaptured).toBe(1050);
    const dinar = await gateway.authorize(charge({ currency: 'KWD', amount: 1050 }));
    expect(emulator.payments().find((p) => p.id === dinar.reference)?.amount).toBe('1.050');
  });

  it('classifies a 402 insufficient_funds as a hard decline', async () => {
    const err = await gatewayError(gateway.authorize(charge({ paymentMethod: 'tok_insufficient_funds' })));
    expect(err).toMatchObject({
      classification: 'hard_decline',
      code: 'insufficient_funds',
      httpStatus: 402,
    });
  });

  it('classifies a 422 card_invalid as a hard decline', async () => {
    const err = await gatewayError(gateway.authorize(charge({ paymentMethod: 'tok_invalid' })));
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'card_invalid', httpStatus: 422 });
  });

  it('turns a 2xx DECLINED into a hard decline carrying the decline code', async () => {
    const err = await gatewayError(gateway.authorize(charge({ paymentMethod: 'tok_declined' })));
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'do_not_honor', httpStatus: 201 });
  });

  it('classifies 503 as retryable; the retry with the same key charges once', async () => {
    const req = charge();
    emulator.failNext(1, 503);
    const err = await gatewayError(gateway.authorize(req));
    expect(err).toMatchObject({ classification: 'retryable', code: 'internal', httpStatus: 503 });
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(0);
    await expect(gateway.authorize(req)).resolves.toMatchObject({ status: 'succeeded' });
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);
  });

  it('classifies 429 as retryable', async () => {
    emulator.failNext(1, 429);
    const err = await gatewayError(gateway.authorize(charge()));
    expect(err).toMatchObject({ classification: 'retryable', code: 'rate_limited', httpStatus: 429 });
  });

  it('classifies 500 as ambiguous by default', async () => {
    emulator.failNext(1, 500);
    const err = await gatewayError(gateway.authorize(charge()));
    expect(err).toMatchObject({ classification: 'ambiguous', httpStatus: 500 });
  });

  it('classifies a dropped connection as ambiguous; the lookup finds the charge exactly once', async () => {
    const req = charge();
    emulator.dropNext(1, { path: '/v1/payments' });
    const err = await gatewayError(gateway.authorize(req));
    expect(err.classification).toBe('ambiguous');
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);

    const found = await gateway.lookup({
      paymentId: req.paymentId,
      attempt: 1,
      idempotencyKey: req.idempotencyKey,
    });
    expect(found).toMatchObject({ status: 'succeeded', amountCaptured: 1050 });
    // Retrying with the same key replays the stored answer instead of charging again.
    const retried = await gateway.authorize(req);
    expect(retried.reference).toBe(found?.reference);
    expect(emulator.chargeCount(req.idempotencyKey)).toBe(1);
  });

  it('looks up by reference and returns null for attempts the gateway never saw', async () => {
    const outcome = await gateway.authorize(charge());
    await expect(
      gateway.lookup({ paymentId: 'x', attempt: 1, idempotencyKey: 'x-1', reference: outcome.reference }),
    ).resolves.toMatchObject({
      status: 'succeeded',
      reference: outcome.reference,
    });
    await expect(
      gateway.lookup({ paymentId: 'never', attempt: 1, idempotencyKey: 'never-1' }),
    ).resolves.toBeNull();
    await expect(
      gateway.lookup({
        paymentId: 'never',
        attempt: 1,
        idempotencyKey: 'never-1',
        reference: 'acme_missing',
      }),
    ).resolves.toBeNull();
  });

  it('authorizes for manual capture, then captures part of it', async () => {
    const auth = await gateway.authorize(charge({ captureMode: 'manual' }));
    expect(auth).toMatchObject({ status: 'authorized', amountCaptured: 0 });
    const captured = await gateway.capture(auth.reference, 800, `${auth.reference}-capture`, 'EUR');
    expect(captured).toMatchObject({ status: 'succeeded', reference: auth.reference, amountCaptured: 800 });
  });

  it('refunds, and refuses a refund beyond the captured amount as a hard decline', async () => {
    const auth = await gateway.authorize(charge());
    const refund = await gateway.refund({
      reference: auth.reference,
      amount: 500,
      currency: 'EUR',
      idempotencyKey: `${auth.reference}-r1`,
      paymentId: 'p',
    });
    expect(refund.status).toBe('succeeded');
    expect(refund.reference).toMatch(/^re_/);
    const err = await gatewayError(
      gateway.refund({
        reference: auth.reference,
        amount: 600,
        currency: 'EUR',
        idempotencyKey: `${auth.reference}-r2`,
        paymentId: 'p',
      }),
    );
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'refund_not_possible' });
  });

  it('cancels an authorization', async () => {
    const auth = await gateway.authorize(charge({ captureMode: 'manual' }));
    await expect(gateway.cancel(auth.reference, `${auth.reference}-cancel`)).resolves.toMatchObject({
      status: 'canceled',
    });
  });

  it('reports health, and down when the emulator is down', async () => {
    await expect(gateway.checkHealth()).resolves.toMatchObject({ ok: true });
    emulator.setHealthy(false);
    await expect(gateway.checkHealth()).resolves.toMatchObject({ ok: false, detail: 'HTTP 503' });
  });

  it('exposes the fault controls over HTTP too', async () => {
    const res = await fetch(`${emulator.url}/_emulator/fail-next`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1, status: 503 }),
    });
    expect(res.status).toBe(200);
    const err = await gatewayError(gateway.authorize(charge()));
    expect(err.classification).toBe('retryable');
    const req = charge();
    await gateway.authorize(req);
    const counted = (await (
      await fetch(`${emulator.url}/_emulator/charges?merchant_reference=${req.idempotencyKey}`)
    ).json()) as { count: number };
    expect(counted.count).toBe(1);
  });

  it('does not support webhooks', () => {
    expect(() => gateway.parseWebhook(Buffer.from('{}'), {})).toThrow(/does not send webhooks/);
  });
});
