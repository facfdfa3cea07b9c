/**
 * A provider written inline (not from providers/) against a small scripted server with its own wire
 * format: shows that a definition alone is enough, and covers the edges the emulators do not.
 */
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateError } from '../../src/domain/template.js';
import {
  createDeclarativeProviderFactory,
  type ProviderDefinitionInput,
} from '../../src/providers/declarative/index.js';
import {
  GatewayError,
  InvalidCredentialsError,
  type ChargeRequest,
  type PaymentGateway,
} from '../../src/providers/types.js';
import { OutboundUrlError } from '../../src/providers/url-policy.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';

const API_KEY = 'zk_live_very_secret_key';
const WEBHOOK_SECRET = 'zeta_whsec_1234';

const zetapay: ProviderDefinitionInput = {
  name: 'zetapay',
  displayName: 'ZetaPay',
  version: '0.1.0',
  baseUrl: '{{settings.apiBase}}/api',
  credentials: [
    { name: 'apiKey', description: 'API key' },
    { name: 'signingSecret', required: false },
  ],
  auth: { type: 'header', name: 'X-Api-Key', value: '{{credentials.apiKey}}' },
  statusMap: { ok: 'succeeded', held: 'authorized', refused: 'failed' },
  errors: {
    codePath: 'problem.kind',
    messagePath: 'problem.detail',
    rules: [{ httpStatus: [400, 499], code: 'soft_fail', classification: 'retryable' }],
  },
  actions: {
    authorize: {
      method: 'PUT',
      path: '/charges/{{idempotencyKey}}',
      headers: { 'X-Tenant-Hint': "{{payment.metadata.tenantHint | default:'none'}}" },
      body: {
        encoding: 'json',
        template: {
          transaction: {
            amount: {
              value: '{{amount}}',
              currency: '{{currency}}',
              display: '{{amount | minor_to_decimal}} {{currency}}',
            },
            instrument: '{{paymentMethod}}',
            order: '{{paymentId}}',
            tags: ['switchyard', '{{country | lower}}'],
          },
        },
      },
      response: {
        reference: 'data.transaction.id',
        status: 'data.transaction.status',
        declineCode: 'data.transaction.why',
      },
    },
    statusByMerchantReference: {
      method: 'GET',
      path: '/charges/{{idempotencyKey}}',
      response: {
        reference: 'data.transaction.id',
        status: 'data.transaction.status',
        notFoundStatuses: [404, 410],
      },
    },
  },
  webhook: {
    signature: {
      scheme: 'hmac_sha256',
      header: 'X-Zeta-Signature',
      secretCredential: 'signingSecret',
      encoding: 'base64',
      prefix: 'sha256=',
    },
    event: { type: 'event', reference: 'transaction.id', status: 'transaction.status' },
  },
  capabilities: {
    currencies: ['EUR'],
    countries: ['FR'],
    paymentMethods: ['card'],
    captureModes: ['automatic'],
  },
};

interface Seen {
  path: string;
  headers: Record<string, unknown>;
  body: unknown;
}

let server: import('node:http').Server;
let apiBase: string;
const seen: Seen[] = [];
const charges = new Map<string, { id: string; status: string }>();

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.use((req, res, next) => {
    seen.push({ path: req.originalUrl, headers: req.headers, body: req.body });
    if (req.headers['x-api-key'] !== API_KEY) return void res.status(401).json({ problem: { kind: 'auth' } });
    next();
  });
  app.put('/api/charges/:key', (req, res) => {
    const instrument = (req.body as { transaction: { instrument: string } }).transaction.instrument;
    if (instrument === 'tok_slow') return; // never answers
    if (instrument === 'tok_soft') return void res.status(409).json({ problem: { kind: 'soft_fail' } });
    if (instrument === 'tok_echo') {
      return void res
        .status(400)
        .json({ problem: { kind: 'bad', detail: `key ${String(req.headers['x-api-key'])} is odd` } });
    }
    const status = instrument === 'tok_mystery' ? 'MYSTERY' : instrument === 'tok_refused' ? 'refused' : 'ok';
    const charge = charges.get(req.params.key) ?? { id: `zeta_${charges.size + 1}`, status };
    charges.set(req.params.key, charge);
    res.json({ data: { transaction: { ...charge, why: status === 'refused' ? 'stolen_card' : undefined } } });
  });
  app.get('/api/charges/:key', (req, res) => {
    const charge = charges.get(req.params.key);
    if (!charge) return void res.status(410).json({ problem: { kind: 'gone' } });
    res.json({ data: { transaction: charge } });
  });
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const factory = createDeclarativeProviderFactory(zetapay, {
  fetch: createEgressFetch({ allowPrivateNetworks: true }),
  timeoutMs: 300,
});

function connect(
  credentials: Record<string, string> = { apiKey: API_KEY, signingSecret: WEBHOOK_SECRET },
  settings: Record<string, unknown> = { apiBase },
): PaymentGateway {
  return factory.create({ tenantId: 't1', connectionId: 'c-zeta', credentials, settings }).payments!;
}

let n = 0;
function charge(paymentMethod = 'tok_ok', overrides: Partial<ChargeRequest> = {}): ChargeRequest {
  const paymentId = `pay_zeta_${++n}`;
  return {
    paymentId,
    attempt: 2,
    idempotencyKey: `${paymentId}-2`,
    amount: 1999,
    currency: 'EUR',
    country: 'FR',
    paymentMethod,
    captureMode: 'automatic',
    metadata: { tenantHint: 'blue' },
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('an inline definition (zetapay) end to end', () => {
  it('renders the nested JSON body, headers and URL, and maps the answer', async () => {
    const req = charge();
    const outcome = await connect().authorize(req);
    expect(outcome).toEqual({ status: 'succeeded', reference: 'zeta_1' });
    const request = seen.at(-1);
    expect(request?.path).toBe(`/api/charges/${req.idempotencyKey}`);
    expect(request?.headers['x-tenant-hint']).toBe('blue');
    expect(request?.body).toEqual({
      transaction: {
        amount: { value: 1999, currency: 'EUR', display: '19.99 EUR' },
        instrument: 'tok_ok',
        order: req.paymentId,
        tags: ['switchyard', 'fr'],
      },
    });
    await expect(
      connect().lookup({ paymentId: req.paymentId, attempt: 2, idempotencyKey: req.idempotencyKey }),
    ).resolves.toEqual(outcome);
  });

  it('treats a notFoundStatuses answer as "never reached the gateway"', async () => {
    await expect(
      connect().lookup({ paymentId: 'p', attempt: 1, idempotencyKey: 'nope-1' }),
    ).resolves.toBeNull();
  });

  it('URL-encodes interpolated path values', async () => {
    const req = charge('tok_ok', { idempotencyKey: 'a/b?c=d' });
    await connect().authorize(req);
    expect(seen.at(-1)?.path).toBe('/api/charges/a%2Fb%3Fc%3Dd');
  });

  it('maps a 2xx refused status to a hard decline with the decline code', async () => {
    await expect(failure(connect().authorize(charge('tok_refused')))).resolves.toMatchObject({
      classification: 'hard_decline',
      code: 'stolen_card',
    });
  });

  it('classifies a status missing from statusMap as ambiguous', async () => {
    await expect(failure(connect().authorize(charge('tok_mystery')))).resolves.toMatchObject({
      classification: 'ambiguous',
      code: 'unmapped_status',
    });
  });

  it('applies the error table before the defaults (409 soft_fail → retryable)', async () => {
    await expect(failure(connect().authorize(charge('tok_soft')))).resolves.toMatchObject({
      classification: 'retryable',
      code: 'soft_fail',
      httpStatus: 409,
    });
  });

  it('classifies a timeout as ambiguous', async () => {
    const err = await failure(connect().authorize(charge('tok_slow')));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ classification: 'ambiguous', code: 'timeout' });
  });

  it('classifies a refused connection as retryable', async () => {
    const closed = express().listen(0, '127.0.0.1');
    await new Promise((resolve) => closed.once('listening', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await failure(
      connect(undefined, { apiBase: `http://127.0.0.1:${port}` }).authorize(charge()),
    );
    expect(err).toMatchObject({ classification: 'retryable', code: 'ECONNREFUSED' });
  });

  it('never puts credentials into error messages, even when the provider echoes them', async () => {
    const err = (await failure(connect().authorize(charge('tok_echo')))) as GatewayError;
    expect(err.classification).toBe('hard_decline');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain(API_KEY);
  });

  it('verifies credentials through a lookup when there is no verifyCredentials action', async () => {
    await expect(connect().verifyCredentials()).resolves.toEqual({ account: 'ZetaPay' });
    await expect(failure(connect({ apiKey: 'wrong-key' }).verifyCredentials())).resolves.toBeInstanceOf(
      InvalidCredentialsError,
    );
  });

  it('reports health through the lookup when there is no health action', async () => {
    await expect(connect().checkHealth()).resolves.toMatchObject({ ok: true });
  });

  it('refuses actions the definition does not have', async () => {
    await expect(failure(connect().capture('zeta_1', 100, 'k', 'EUR'))).resolves.toMatchObject({
      classification: 'hard_decline',
      code: 'action_not_supported',
    });
  });

  it('verifies a base64, prefixed body-only webhook signature', () => {
    const body = Buffer.from(
      JSON.stringify({ event: 'charge.updated', transaction: { id: 'zeta_1', status: 'held' } }),
    );
    const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('base64')}`;
    const event = connect().parseWebhook(body, { 'X-Zeta-Signature': signature });
    expect(event).toMatchObject({ type: 'charge.updated', reference: 'zeta_1', status: 'authorized' });
    expect(event.eventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(() =>
      connect().parseWebhook(body, { 'x-zeta-signature': signature.replace('sha256=', '') }),
    ).toThrow(/does not match/);
    expect(() => connect({ apiKey: API_KEY }).parseWebhook(body, { 'x-zeta-signature': signature })).toThrow(
      /signingSecret/,
    );
  });

  it('sends through the injected egress guard, which refuses the base URL per request', async () => {
    const strict = createDeclarativeProviderFactory(zetapay, { fetch: createEgressFetch({ allowPrivateNetworks: false }) });
    const ctx = { tenantId: 't1', connectionId: 'c', credentials: { apiKey: API_KEY } };
    await expect(strict.create({ ...ctx, settings: { apiBase } }).verifyCredentials()).rejects.toThrow(OutboundUrlError);
    await expect(
      strict.create({ ...ctx, settings: { apiBase: 'http://169.254.169.254' } }).verifyCredentials(),
    ).rejects.toThrow(/link-local/);
    const denied = createDeclarativeProviderFactory(zetapay, {
      fetch: createEgressFetch({ allowPrivateNetworks: true, deniedHosts: ['127.0.0.1'] }),
    });
    await expect(denied.create({ ...ctx, settings: { apiBase } }).verifyCredentials()).rejects.toThrow(/denied/);
  });

  it('names the missing setting or credential at connect time', () => {
    const ctx = { tenantId: 't1', connectionId: 'c' };
    expect(() => factory.create({ ...ctx, credentials: { apiKey: API_KEY }, settings: {} })).toThrow(
      TemplateError,
    );
    expect(() => factory.create({ ...ctx, credentials: { apiKey: API_KEY }, settings: {} })).toThrow(
      /settings\.apiBase/,
    );
    expect(() => factory.create({ ...ctx, credentials: {}, settings: { apiBase } })).toThrow(/apiKey/);
    expect(factory.type).toBe('zetapay');
  });
});

describe('currency exceptions: amounts in the gateway units', () => {
  const zeroDecimalMga = createDeclarativeProviderFactory(
    { ...zetapay, currencyExceptions: { MGA: { exponent: 0 }, ISK: { exponent: 2, multipleOf: 100 } } },
    { fetch: createEgressFetch({ allowPrivateNetworks: true }), timeoutMs: 5000 },
  );
  const gateway = () =>
    zeroDecimalMga.create({
      tenantId: 't1',
      connectionId: 'c-zeta-mga',
      credentials: { apiKey: API_KEY },
      settings: { apiBase },
    }).payments!;
  const sentAmount = () => (seen.at(-1)?.body as { transaction: { amount: unknown } }).transaction.amount;

  it.each([
    ['MGA', 250_000, { value: 2500, display: '2500 MGA' }],
    ['ISK', 500, { value: 50_000, display: '500.00 ISK' }],
    ['EUR', 1999, { value: 1999, display: '19.99 EUR' }],
  ])('%s %i ISO minor units reach the gateway as %j', async (currency, amount, expected) => {
    await gateway().authorize(charge('tok_ok', { currency, amount }));
    expect(sentAmount()).toEqual({ ...expected, currency });
  });

  it('refuses an amount the gateway cannot represent, before sending anything', async () => {
    const before = seen.length;
    await expect(
      failure(gateway().authorize(charge('tok_ok', { currency: 'MGA', amount: 1050 }))),
    ).resolves.toMatchObject({
      classification: 'hard_decline',
      code: 'amount_not_representable',
    });
    expect(seen.length).toBe(before);
  });
});
