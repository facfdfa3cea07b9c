import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseStripeForm } from '../../emulators/stripe/form-params.js';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { responseSchema, validateSchema } from '../support/stripe-openapi.js';

const KEY = 'sk_test_emulator_suite';

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver answering with the queued statuses (then 200), recording raw bodies. */
async function startReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    eventsOfType: (type: string) =>
      received.filter((r) => (JSON.parse(r.body) as { type: string }).type === type),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let emulator: RunningStripeEmulator;
let stripe: Stripe;

function client(key = KEY): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
}

/** A raw call, to check bodies and headers exactly as sent on the wire. */
async function raw(
  method: string,
  path: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const encoded = new URLSearchParams(params).toString();
  const response = await fetch(`${emulator.url}${path}${method === 'GET' && encoded ? `?${encoded}` : ''}`, {
    method,
    headers: {
      Authorization: `Bearer ${KEY}`,
      'Content-Type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    ...(method === 'GET' ? {} : { body: encoded }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

function intentsFor(paymentId: string) {
  return emulator.paymentIntents().filter((pi) => pi.metadata['payment_id'] === paymentId);
}

beforeAll(async () => {
  emulator = await startStripeEmulator({ webhookRetryBaseMs: 20, processingSettleMs: 50 });
  stripe = client();
});

afterEach(() => emulator.reset());

afterAll(async () => {
  await emulator.close();
});

describe('Stripe form encoding', () => {
  it('parses bracket notation into nested objects and arrays', () => {
    expect(
      parseStripeForm(
        'amount=100&metadata%5Border%5D=42&metadata[note]=a+b&expand[]=x&expand[]=y&items[0][price]=p&items[1][price]=q',
      ),
    ).toEqual({
      amount: '100',
      metadata: { order: '42', note: 'a b' },
      expand: ['x', 'y'],
      items: [{ price: 'p' }, { price: 'q' }],
    });
  });

  it('ignores prototype-polluting keys', () => {
    const parsed = parseStripeForm('__proto__[admin]=1&metadata[__proto__]=x&ok=1');
    expect(parsed).toEqual({ metadata: {}, ok: '1' });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });
});

describe('Stripe emulator API contract (official SDK over HTTP, checked against the OpenAPI spec)', () => {
  it('has a contract validator that catches departures from the spec', async () => {
    const pi = JSON.parse(
      JSON.stringify(await stripe.paymentIntents.create({ amount: 100, currency: 'usd' })),
    ) as Record<string, unknown>;
    expect(validateSchema('payment_intent', pi)).toEqual([]);
    expect(validateSchema('payment_intent', { ...pi, status: 'bogus' })).toEqual([
      expect.stringContaining('$.status'),
    ]);
    expect(validateSchema('payment_intent', { ...pi, amount: undefined })).toEqual([
      '$.amount: required but missing',
    ]);
    expect(validateSchema('payment_intent', { ...pi, amount: 1.5 })).toEqual([
      '$.amount: expected integer, got number',
    ]);
    expect(validateSchema('payment_intent', { ...pi, capture_method: null })).toEqual([
      '$.capture_method: is null but not nullable',
    ]);
    expect(validateSchema('payment_intent', { ...pi, metadata: { a: 1 } })).toEqual([
      '$.metadata.a: expected string, got number',
    ]);
    expect(validateSchema('payment_intent', { ...pi, last_payment_error: { message: 'x' } })).toEqual([
      expect.stringContaining('type: required but missing'),
    ]);
  });

  it('serves the balance and Stripe response headers', async () => {
    const balance = await stripe.balance.retrieve();
    expect(validateSchema('balance', balance)).toEqual([]);
    expect(balance.livemode).toBe(false);
    const headers = balance.lastResponse.headers;
    expect(headers['request-id']).toMatch(/^req_[A-Za-z0-9]{14}$/);
    expect(headers['stripe-version']).toBe(Stripe.API_VERSION);
  });

  it('creates and confirms a PaymentIntent that succeeds, with metadata and the charge recorded', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 2500,
      currency: 'EUR',
      payment_method: 'pm_card_visa',
      confirm: true,
      customer: 'cus_123',
      description: 'order 7',
      metadata: { payment_id: 'pay_ok', note: 'x' },
    });
    expect(validateSchema('payment_intent', pi)).toEqual([]);
    expect(pi).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 2500,
      amount_received: 2500,
      currency: 'eur',
      customer: 'cus_123',
      description: 'order 7',
      capture_method: 'automatic',
      metadata: { payment_id: 'pay_ok', note: 'x' },
    });
    expect(pi.id).toMatch(/^pi_/);
    expect(pi.latest_charge).toMatch(/^ch_/);
    expect(emulator.chargeCount('pay_ok')).toBe(1);
    const retrieved = await stripe.paymentIntents.retrieve(pi.id);
    expect(retrieved.status).toBe('succeeded');
  });

  it('holds a manual-capture authorisation, captures part of it, and refuses a second capture', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: 'pm_card_mastercard',
      capture_method: 'manual',
      confirm: true,
      metadata: { payment_id: 'pay_manual' },
    });
    expect(pi.status).toBe('requires_capture');
    expect(pi.amount_capturable).toBe(1000);
    expect(validateSchema('payment_intent', pi)).toEqual([]);

    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 600 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 600, amount_capturable: 0 });
    await expect(stripe.paymentIntents.capture(pi.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      code: 'payment_intent_unexpected_state',
    });
    expect(emulator.chargeCount('pay_manual')).toBe(1);
  });

  it('confirms in a separate call and cancels an authorisation', async () => {
    const created = await stripe.paymentIntents.create({
      amount: 700,
      currency: 'usd',
      capture_method: 'manual',
    });
    expect(created.status).toBe('requires_payment_method');
    const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(confirmed.status).toBe('requires_capture');
    const canceled = await stripe.paymentIntents.cancel(created.id, {
      cancellation_reason: 'requested_by_customer',
    });
    expect(validateSchema('payment_intent', canceled)).toEqual([]);
    expect(canceled).toMatchObject({
      status: 'canceled',
      cancellation_reason: 'requested_by_customer',
      amount_capturable: 0,
    });
    expect(canceled.canceled_at).toEqual(expect.any(Number));
    await expect(stripe.paymentIntents.cancel(created.id)).rejects.toMatchObject({
      code: 'payment_intent_unexpected_state',
    });
  });

  it('declines pm_card_chargeDeclined with a 402 card_error embedding the PaymentIntent', async () => {
    const response = await raw('POST', '/v1/payment_intents', {
      amount: '1500',
      currency: 'usd',
      payment_method: 'pm_card_chargeDeclined',
      confirm: 'true',
      'metadata[payment_id]': 'pay_declined',
    });
    expect(response.status).toBe(402);
    expect(validateSchema('error', response.body)).toEqual([]);
    const error = response.body['error'] as Record<string, unknown>;
    expect(error).toMatchObject({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
    expect(error['payment_intent']).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' },
    });
    expect(emulator.chargeCount('pay_declined')).toBe(0);
  });

  it('surfaces declines as StripeCardError through the SDK (insufficient funds)', async () => {
    const failure = await stripe.paymentIntents
      .create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
        confirm: true,
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = failure as Stripe.errors.StripeCardError;
    expect(cardError.statusCode).toBe(402);
    expect(cardError.decline_code).toBe('insufficient_funds');
    expect(cardError.payment_intent?.status).toBe('requires_payment_method');
  });

  it('asks for 3-D Secure on pm_card_threeDSecureRequired', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_card_threeDSecureRequired',
      confirm: true,
    });
    expect(validateSchema('payment_intent', pi)).toEqual([]);
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action?.type).toBe('use_stripe_sdk');
  });

  it('moves an asynchronous payment from processing to succeeded', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_emulator_processing',
      confirm: true,
    });
    expect(pi.status).toBe('processing');
    const settled = await waitFor(async () => {
      const current = await stripe.paymentIntents.retrieve(pi.id);
      return current.status === 'processing' ? undefined : current;
    });
    expect(settled.status).toBe('succeeded');
  });

  it('rejects missing and malformed parameters with Stripe parameter errors', async () => {
    const missing = await raw('POST', '/v1/payment_intents', { currency: 'usd' });
    expect(missing.status).toBe(400);
    expect(validateSchema('error', missing.body)).toEqual([]);
    expect(missing.body['error']).toMatchObject({
      type: 'invalid_request_error',
      code: 'parameter_missing',
      param: 'amount',
    });
    const malformed = await raw('POST', '/v1/payment_intents', { currency: 'usd', amount: 'ten' });
    expect(malformed.body['error']).toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'amount',
      message: 'Invalid integer: ten',
    });
    const unknown = await raw('GET', '/v1/payment_intents/pi_nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body['error']).toMatchObject({
      code: 'resource_missing',
      message: "No such payment_intent: 'pi_nope'",
    });
  });

  it('finds PaymentIntents by metadata with Stripe search and its search_result shape', async () => {
    const target = await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { attempt_key: 'pay_s-1', payment_id: 'pay_s' },
    });
    await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      metadata: { attempt_key: 'pay_s-2' },
    });

    const found = await raw('GET', '/v1/payment_intents/search', {
      query: "metadata['attempt_key']:'pay_s-1'",
    });
    expect(validateSchema(responseSchema('/v1/payment_intents/search', 'get'), found.body)).toEqual([]);
    expect(found.body).toMatchObject({
      object: 'search_result',
      has_more: false,
      next_page: null,
      url: '/v1/payment_intents/search',
    });

    const viaSdk = await stripe.paymentIntents.search({ query: "metadata['attempt_key']:'pay_s-1'" });
    expect(viaSdk.data.map((pi) => pi.id)).toEqual([target.id]);
    const combined = await stripe.paymentIntents.search({
      query: "status:'succeeded' AND metadata['payment_id']:'pay_s'",
    });
    expect(combined.data.map((pi) => pi.id)).toEqual([target.id]);
    const none = await stripe.paymentIntents.search({ query: "metadata['attempt_key']:'absent'" });
    expect(none.data).toEqual([]);
    await expect(stripe.paymentIntents.search({ query: 'not a query' })).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
    });
  });

  it('pages search results with next_page', async () => {
    for (let i = 0; i < 3; i++)
      await stripe.paymentIntents.create({ amount: 100 + i, currency: 'usd', metadata: { batch: 'b' } });
    const first = await stripe.paymentIntents.search({ query: "metadata['batch']:'b'", limit: 2 });
    expect(first.has_more).toBe(true);
    expect(first.next_page).toEqual(expect.any(String));
    const second = await stripe.paymentIntents.search({
      query: "metadata['batch']:'b'",
      limit: 2,
      page: first.next_page ?? '',
    });
    expect(second.has_more).toBe(false);
    expect([...first.data, ...second.data].map((pi) => pi.amount).sort()).toEqual([100, 101, 102]);
  });
});

describe('Stripe emulator refunds', () => {
  it('refunds up to the captured amount and never more', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      capture_method: 'manual',
      confirm: true,
    });
    await expect(stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({
      code: 'charge_not_refundable',
    });
    await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 800 });

    const partial = await stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    expect(validateSchema('refund', partial)).toEqual([]);
    expect(partial).toMatchObject({
      object: 'refund',
      amount: 300,
      status: 'succeeded',
      payment_intent: pi.id,
      currency: 'usd',
    });

    const tooMuch = await raw('POST', '/v1/refunds', { payment_intent: pi.id, amount: '501' });
    expect(tooMuch.status).toBe(400);
    expect(validateSchema('error', tooMuch.body)).toEqual([]);
    expect(tooMuch.body['error']).toMatchObject({
      type: 'invalid_request_error',
      code: 'amount_too_large',
      param: 'amount',
    });

    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(500);
    await expect(stripe.refunds.create({ payment_intent: pi.id, amount: 1 })).rejects.toMatchObject({
      code: 'charge_already_refunded',
    });
    expect((await stripe.refunds.retrieve(partial.id)).amount).toBe(300);
  });
});

describe('Stripe emulator idempotency', () => {
  const params = {
    amount: 4200,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: true,
    metadata: { payment_id: 'pay_idem' },
  };

  it('replays the stored response for the same key and parameters', async () => {
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'pay_idem-1' });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'pay_idem-1' });
    expect(second.id).toBe(first.id);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.lastResponse.requestId).not.toBe(first.lastResponse.requestId);
    expect(intentsFor('pay_idem')).toHaveLength(1);
    expect(emulator.chargeCount('pay_idem')).toBe(1);
  });

  it('replays a decline instead of charging again', async () => {
    const declined = { ...params, payment_method: 'pm_card_chargeDeclined' };
    const first = await stripe.paymentIntents
      .create(declined, { idempotencyKey: 'pay_idem-2' })
      .catch((e: unknown) => e);
    const second = await stripe.paymentIntents
      .create(declined, { idempotencyKey: 'pay_idem-2' })
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((second as Stripe.errors.StripeCardError).payment_intent?.id).toBe(
      (first as Stripe.errors.StripeCardError).payment_intent?.id,
    );
    expect((second as Stripe.errors.StripeCardError).headers?.['idempotent-replayed']).toBe('true');
    expect(intentsFor('pay_idem')).toHaveLength(1);
  });

  it('refuses a reused key with different parameters (idempotency_error)', async () => {
    await stripe.paymentIntents.create(params, { idempotencyKey: 'pay_idem-3' });
    const mismatch = await raw(
      'POST',
      '/v1/payment_intents',
      { amount: '1', currency: 'usd' },
      { 'Idempotency-Key': 'pay_idem-3' },
    );
    expect(mismatch.status).toBe(400);
    expect(validateSchema('error', mismatch.body)).toEqual([]);
    expect(mismatch.body['error']).toMatchObject({ type: 'idempotency_error' });
    await expect(
      stripe.paymentIntents.create({ ...params, amount: 1 }, { idempotencyKey: 'pay_idem-3' }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(intentsFor('pay_idem')).toHaveLength(1);
  });

  it('scopes keys to the API key', async () => {
    const mine = await stripe.paymentIntents.create(params, { idempotencyKey: 'shared-key' });
    const theirs = await client('sk_test_other_account').paymentIntents.create(params, {
      idempotencyKey: 'shared-key',
    });
    expect(theirs.id).not.toBe(mine.id);
    await expect(client('sk_test_other_account').paymentIntents.retrieve(mine.id)).rejects.toMatchObject({
      code: 'resource_missing',
    });
  });
});

describe('Stripe emulator authentication', () => {
  it('answers 401 with a Stripe error for a missing or unknown key', async () => {
    const strict = await startStripeEmulator({ apiKeys: ['sk_test_only_this_one'] });
    try {
      const response = await fetch(`${strict.url}/v1/balance`, {
        headers: { Authorization: 'Bearer sk_test_wrong_key_1234' },
      });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { error: { type: string; message: string } };
      expect(validateSchema('error', body)).toEqual([]);
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toContain('1234');
      expect(body.error.message).not.toContain('wrong_key');
      const noKey = await fetch(`${strict.url}/v1/balance`);
      expect(noKey.status).toBe(401);

      const sdk = new Stripe('sk_test_wrong_key_1234', {
        host: '127.0.0.1',
        port: strict.port,
        protocol: 'http',
      });
      await expect(sdk.balance.retrieve()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      const allowed = new Stripe('sk_test_only_this_one', {
        host: '127.0.0.1',
        port: strict.port,
        protocol: 'http',
      });
      expect((await allowed.balance.retrieve()).object).toBe('balance');
    } finally {
      await strict.close();
    }
  });
});

describe('Stripe emulator fault injection', () => {
  const params = { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true };

  it('drops the connection after processing: the client sees a reset, the charge happened once', async () => {
    // The SDK retries a reset connection once (same Idempotency-Key) even with maxNetworkRetries: 0.
    emulator.dropNext({ times: 2, pathPrefix: '/v1/payment_intents', method: 'POST' });
    const failure = await stripe.paymentIntents
      .create({ ...params, metadata: { payment_id: 'pay_drop' } }, { idempotencyKey: 'pay_drop-1' })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(intentsFor('pay_drop')).toHaveLength(1);
    expect(intentsFor('pay_drop')[0]?.status).toBe('succeeded');
    expect(emulator.chargeCount('pay_drop')).toBe(1);
    const dropped = emulator.requests().filter((r) => r.idempotencyKey === 'pay_drop-1');
    expect(dropped.map((r) => [r.fault, r.status, r.replayed])).toEqual([
      ['drop', null, false],
      ['drop', null, true],
    ]);

    const retried = await stripe.paymentIntents.create(
      { ...params, metadata: { payment_id: 'pay_drop' } },
      { idempotencyKey: 'pay_drop-1' },
    );
    expect(retried.id).toBe(intentsFor('pay_drop')[0]?.id);
    expect(emulator.chargeCount('pay_drop')).toBe(1);
  });

  it('fails the next requests before processing with Stripe error bodies', async () => {
    emulator.failNext({ status: 503, pathPrefix: '/v1/payment_intents' });
    const unavailable = await raw('POST', '/v1/payment_intents', {
      amount: '100',
      currency: 'usd',
      'metadata[payment_id]': 'pay_503',
    });
    expect(unavailable.status).toBe(503);
    expect(validateSchema('error', unavailable.body)).toEqual([]);
    expect(unavailable.body['error']).toMatchObject({ type: 'api_error' });
    expect(intentsFor('pay_503')).toHaveLength(0);

    emulator.failNext({ status: 429, times: 2 });
    await expect(stripe.balance.retrieve()).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    await expect(stripe.balance.retrieve()).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect((await stripe.balance.retrieve()).object).toBe('balance');
  });

  it('only fails requests matching the path prefix', async () => {
    emulator.failNext({ status: 500, pathPrefix: '/v1/refunds' });
    expect((await stripe.balance.retrieve()).object).toBe('balance');
    await expect(stripe.refunds.create({ payment_intent: 'pi_x' })).rejects.toMatchObject({
      statusCode: 500,
    });
    await expect(stripe.refunds.create({ payment_intent: 'pi_x' })).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('can fail after processing, leaving a replayable result behind', async () => {
    emulator.failNext({ status: 500, afterProcessing: true, pathPrefix: '/v1/payment_intents' });
    const first = await stripe.paymentIntents
      .create({ ...params, metadata: { payment_id: 'pay_500' } }, { idempotencyKey: 'pay_500-1' })
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(intentsFor('pay_500')).toHaveLength(1);
    const retry = await stripe.paymentIntents.create(
      { ...params, metadata: { payment_id: 'pay_500' } },
      { idempotencyKey: 'pay_500-1' },
    );
    expect(retry.id).toBe(intentsFor('pay_500')[0]?.id);
    expect(emulator.chargeCount('pay_500')).toBe(1);
  });

  it('applies a random failure rate', async () => {
    const seeded = await startStripeEmulator({
      random: (() => {
        const rolls = [0.1, 0.9, 0.4, 0.6];
        return () => rolls.shift() ?? 0.99;
      })(),
    });
    try {
      seeded.setFailureRate(0.5);
      const sdk = new Stripe(KEY, {
        host: '127.0.0.1',
        port: seeded.port,
        protocol: 'http',
        maxNetworkRetries: 0,
      });
      const outcomes = [];
      for (let i = 0; i < 4; i++)
        outcomes.push(
          await sdk.balance.retrieve().then(
            () => 'ok',
            (e: Stripe.errors.StripeError) => e.statusCode,
          ),
        );
      expect(outcomes).toEqual([503, 'ok', 503, 'ok']);
      seeded.setFailureRate(0);
      expect((await sdk.balance.retrieve()).object).toBe('balance');
    } finally {
      await seeded.close();
    }
  });

  it('is driven over HTTP by /_emulator control endpoints', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${emulator.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });

    expect(
      (await post('/_emulator/faults/fail', { status: 502, times: 1, pathPrefix: '/v1/balance' })).status,
    ).toBe(200);
    expect(
      ((await (await fetch(`${emulator.url}/_emulator/faults`)).json()) as { rules: unknown[] }).rules,
    ).toHaveLength(1);
    await expect(stripe.balance.retrieve()).rejects.toMatchObject({ statusCode: 502 });

    expect(
      (await post('/_emulator/faults/drop', { times: 2, pathPrefix: '/v1/payment_intents' })).status,
    ).toBe(200);
    await expect(
      stripe.paymentIntents.create(
        { ...params, metadata: { payment_id: 'pay_ctl' } },
        { idempotencyKey: 'pay_ctl-1' },
      ),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const counts = (await (await fetch(`${emulator.url}/_emulator/charges/pay_ctl`)).json()) as {
      count: number;
    };
    expect(counts).toEqual({ paymentId: 'pay_ctl', count: 1 });
    const all = (await (await fetch(`${emulator.url}/_emulator/charges`)).json()) as {
      byPaymentId: Record<string, number>;
    };
    expect(all.byPaymentId).toEqual({ pay_ctl: 1 });

    const requests = (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as {
      data: { path: string; fault: string | null }[];
    };
    expect(requests.data.filter((r) => r.fault === 'drop')).toHaveLength(2);

    expect(
      (await post('/_emulator/faults/failure-rate', { rate: 1, pathPrefix: '/v1/balance' })).status,
    ).toBe(200);
    await expect(stripe.balance.retrieve()).rejects.toMatchObject({ statusCode: 503 });
    expect((await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await stripe.balance.retrieve()).object).toBe('balance');

    const invalid = await post('/_emulator/faults/fail', { status: 200 });
    expect(invalid.status).toBe(400);
    expect((await post('/_emulator/reset', {})).status).toBe(200);
    expect(emulator.chargeCounts()).toEqual({});
  });
});

describe('Stripe emulator webhooks', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  afterEach(async () => {
    await receiver.close();
  });

  async function registerEndpoint(events = ['*']) {
    const endpoint = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: events as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
    });
    expect(endpoint.secret).toMatch(/^whsec_/);
    return endpoint;
  }

  it('delivers signed events that stripe.webhooks.constructEvent verifies', async () => {
    receiver = await startReceiver();
    const endpoint = await registerEndpoint(['payment_intent.succeeded', 'payment_intent.payment_failed']);
    const raw = await fetch(`${emulator.url}/v1/webhook_endpoints/${endpoint.id}`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    expect(((await raw.json()) as { secret?: string }).secret).toBeUndefined();

    const pi = await stripe.paymentIntents.create(
      {
        amount: 1200,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        metadata: { payment_id: 'pay_wh' },
      },
      { idempotencyKey: 'pay_wh-1' },
    );
    await stripe.paymentIntents
      .create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true })
      .catch(() => undefined);
    await emulator.webhooksIdle();

    expect(receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type).sort()).toEqual([
      'payment_intent.payment_failed',
      'payment_intent.succeeded',
    ]);
    const delivery = receiver.eventsOfType('payment_intent.succeeded')[0];
    const signature = delivery?.headers['stripe-signature'];
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = stripe.webhooks.constructEvent(
      delivery?.body ?? '',
      String(signature),
      endpoint.secret ?? '',
    );
    expect(validateSchema('event', event)).toEqual([]);
    expect(validateSchema('payment_intent', event.data.object)).toEqual([]);
    expect(event).toMatchObject({
      type: 'payment_intent.succeeded',
      request: { idempotency_key: 'pay_wh-1' },
      data: { object: { id: pi.id, status: 'succeeded' } },
    });
    expect(() =>
      stripe.webhooks.constructEvent(
        (delivery?.body ?? '').replace('1200', '1300'),
        String(signature),
        endpoint.secret ?? '',
      ),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(() =>
      stripe.webhooks.constructEvent(delivery?.body ?? '', String(signature), 'whsec_wrong'),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);

    const stored = await stripe.events.retrieve(event.id);
    expect(stored.type).toBe('payment_intent.succeeded');
  });

  it('emits capture, cancel and refund events', async () => {
    receiver = await startReceiver();
    await registerEndpoint();
    const pi = await stripe.paymentIntents.create({
      amount: 500,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      capture_method: 'manual',
      confirm: true,
    });
    await stripe.paymentIntents.capture(pi.id);
    await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
    const other = await stripe.paymentIntents.create({
      amount: 500,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      capture_method: 'manual',
      confirm: true,
    });
    await stripe.paymentIntents.cancel(other.id);
    await emulator.webhooksIdle();
    const types = receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type);
    expect(types.filter((t) => t === 'payment_intent.amount_capturable_updated')).toHaveLength(2);
    expect(types).toEqual(
      expect.arrayContaining([
        'payment_intent.created',
        'payment_intent.succeeded',
        'refund.created',
        'charge.refunded',
        'payment_intent.canceled',
      ]),
    );
    const refundEvent = JSON.parse(receiver.eventsOfType('refund.created')[0]?.body ?? '{}') as {
      data: { object: unknown };
    };
    expect(validateSchema('refund', refundEvent.data.object)).toEqual([]);
  });

  it('retries a failed delivery with backoff until the receiver accepts it', async () => {
    receiver = await startReceiver([500, 503]);
    await registerEndpoint(['payment_intent.succeeded']);
    await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await emulator.webhooksIdle();
    expect(receiver.received).toHaveLength(3);
    expect(emulator.deliveries()).toMatchObject([
      { eventType: 'payment_intent.succeeded', attempts: 3, state: 'delivered', lastStatus: 200 },
    ]);
  });

  it('gives up after the configured attempts', async () => {
    receiver = await startReceiver([500, 500, 500, 500, 500]);
    await registerEndpoint(['payment_intent.succeeded']);
    await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await emulator.webhooksIdle();
    expect(receiver.received).toHaveLength(4);
    expect(emulator.deliveries()).toMatchObject([{ attempts: 4, state: 'failed', lastStatus: 500 }]);
  });

  it('holds deliveries while paused and sends them on resume', async () => {
    receiver = await startReceiver();
    await registerEndpoint(['payment_intent.succeeded']);
    emulator.pauseWebhooks();
    await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    expect(emulator.deliveries()).toMatchObject([{ attempts: 0, state: 'pending' }]);
    emulator.resumeWebhooks();
    await emulator.webhooksIdle();
    expect(receiver.received).toHaveLength(1);
    expect(emulator.deliveries()).toMatchObject([{ attempts: 1, state: 'delivered' }]);
  });

  it('stops delivering to a deleted endpoint', async () => {
    receiver = await startReceiver();
    const endpoint = await registerEndpoint();
    const deleted = await stripe.webhookEndpoints.del(endpoint.id);
    expect(deleted).toMatchObject({ id: endpoint.id, deleted: true });
    await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await emulator.webhooksIdle();
    expect(emulator.deliveries()).toEqual([]);
    expect(emulator.events().every((e) => e.pending_webhooks === 0)).toBe(true);
  });

  it('delays delivery by webhookDelayMs and signs the webhookUrl receiver with webhookSecret', async () => {
    receiver = await startReceiver();
    const delayed = await startStripeEmulator({
      webhookUrl: receiver.url,
      webhookSecret: 'whsec_fixed_for_test',
      webhookDelayMs: 150,
    });
    try {
      const sdk = new Stripe(KEY, {
        host: '127.0.0.1',
        port: delayed.port,
        protocol: 'http',
        maxNetworkRetries: 0,
      });
      const started = Date.now();
      await sdk.paymentIntents.create({
        amount: 100,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
      });
      expect(receiver.received).toHaveLength(0);
      await delayed.webhooksIdle();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      const succeeded = receiver.eventsOfType('payment_intent.succeeded')[0];
      const event = stripe.webhooks.constructEvent(
        succeeded?.body ?? '',
        String(succeeded?.headers['stripe-signature']),
        'whsec_fixed_for_test',
      );
      expect(event.type).toBe('payment_intent.succeeded');
    } finally {
      await delayed.close();
    }
  });
});
