import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { connectPostgres } from '../../src/db/client.js';
import type { Logger } from '../../src/logger.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { unreachableTemporalClient } from '../support/temporal-down.js';

/**
 * Inputs that once answered 500 (found by schemathesis and by hand): each must be a 4xx that names
 * the problem, through the shared HTTP layer, so every router gets the same behaviour.
 */
let stack: TestStack;
let auth: { Authorization: string };
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false, providers: [createStripeProviderFactory({ apiUrl: 'http://127.0.0.1:9' })] });
  ({ auth } = await stack.createTenant('Hostile input'));
});
afterAll(async () => stack?.close());

const payment = (extra: object = {}) => ({
  amount: 1000,
  currency: 'EUR',
  country: 'DE',
  paymentMethod: { type: 'card', token: 'tok_visa' },
  ...extra,
});

/** JSON text nested `depth` levels deep (JSON.stringify itself overflows long before 100,000). */
function deepText(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Serializer that sends a body as it is: superagent would JSON-encode a Buffer sent as application/json. */
const asIs = (body: unknown) => body as string;

/** Bytes of `before`, one raw byte, then `after`: a body that is not valid UTF-8. */
function withByte(before: string, byte: number, after: string): Buffer {
  return Buffer.concat([Buffer.from(before), Buffer.from([byte]), Buffer.from(after)]);
}

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('NUL characters are refused with the field named', () => {
  it.each([
    ['body.metadata.note', { metadata: { note: 'a\u0000b' } }],
    ['body.description', { description: 'x\u0000' }],
    ['body.customerId', { customerId: '\u0000' }],
  ])('%s', async (field, extra) => {
    const res = await request(stack.app).post('/v1/payments').set(auth).set('Idempotency-Key', `nul-${field}`).send(payment(extra)).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: field })]);
  });

  it('in a query parameter', async () => {
    const res = await request(stack.app).get('/v1/connections?provider=%00').set(auth).expect(400);
    expect(res.body.error.details[0].path).toBe('query.provider');
    const payments = await request(stack.app).get('/v1/payments?connectionId=a%00').set(auth).expect(400);
    expect(payments.body.error.details[0].path).toBe('query.connectionId');
  });

  it('in a path parameter, also on the unauthenticated webhook route', async () => {
    const res = await request(stack.app).post('/v1/webhooks/%00').send('{}').expect(400);
    expect(res.body.error.details[0].path).toBe('params.connectionId');
    await request(stack.app).get('/v1/connections/a%00b').set(auth).expect(400);
  });

  it('in an object key', async () => {
    const res = await request(stack.app).post('/v1/payments').set(auth).set('Idempotency-Key', 'nul-key').send(payment({ metadata: { 'k\u0000': 'v' } })).expect(400);
    expect(res.body.error.details[0].path).toBe('body.metadata.k\u0000');
  });
});

describe('bodies that cannot be read', () => {
  it('Content-Encoding: gzip that is not gzip is a 400', async () => {
    const res = await request(stack.app)
      .post('/v1/routing/simulate')
      .set(auth)
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send('{"amount": 1}')
      .expect(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('an unsupported Content-Encoding is a 415', async () => {
    const res = await request(stack.app)
      .post('/v1/routing/simulate')
      .set(auth)
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'compress')
      .send('{}')
      .expect(415);
    expect(res.body.error.message).toContain('compress');
  });

  it('real gzip is still accepted', async () => {
    const base = await stack.listen();
    const res = await fetch(`${base}/v1/routing/simulate`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ amount: 1000, currency: 'EUR', country: 'DE' })),
    });
    expect(res.status).toBe(200);
  });

  it('a non-JSON Content-Type on a JSON endpoint is a 415 that says what to send', async () => {
    const res = await request(stack.app).post('/v1/routing/simulate').set(auth).set('Content-Type', 'text/plain').send('amount=1').expect(415);
    expect(res.body.error).toMatchObject({ code: 'unsupported_media_type' });
    expect(res.body.error.message).toContain('application/json');
    const form = await request(stack.app).post('/v1/connections').set(auth).type('form').send({ provider: 'stripe' }).expect(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
  });
});

describe('JSON nested past a sane depth', () => {
  it('connection settings 5,000 deep are a 400, not a stack overflow', async () => {
    // Written as text: JSON.stringify itself overflows at this depth.
    const settings = `${'{"a":'.repeat(5_000)}"x"${'}'.repeat(5_000)}`;
    const body = `{"provider":"stripe","code":"deep","name":"Deep","credentials":{"secretKey":"sk_test_x"},"settings":${settings}}`;
    const res = await request(stack.app).post('/v1/connections').set(auth).set('Content-Type', 'application/json').send(body).expect(400);
    expect(res.body.error.details).toEqual([{ path: 'body', message: 'nested deeper than 64 levels' }]);
  });

  it('a provider template 3,000 deep is a 400', async () => {
    const definition = YAML.parse(readFileSync('providers/pendingpay.yaml', 'utf8')) as Record<string, unknown> & { actions: { authorize: { body: { template: unknown } } } };
    definition.name = 'deeppay';
    definition.actions.authorize.body.template = nested(3_000, '{{amount}}');
    const res = await request(stack.app).put('/v1/providers/deeppay').set(auth).send(definition).expect(400);
    expect(res.body.error.details).toEqual([{ path: 'body', message: 'nested deeper than 64 levels' }]);
  });
});

describe('a path with broken percent-encoding', () => {
  it.each([
    ['post', '/v1/webhooks/%FF', '%FF'],
    ['get', '/v1/payments/%E0%A4%A', '%E0%A4%A'],
  ] as const)('%s %s is a 400 naming the path encoding, logged below error level', async (method, path, segment) => {
    const lines: { level: string; msg: string }[] = [];
    const record = (level: string) => (msg: string) => void lines.push({ level, msg });
    const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => logger };
    const res = await request(stack.makeApp({ logger }))[method](path).set(auth).expect(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', details: [{ path: 'path', message: `"${segment}" is not valid percent-encoding of UTF-8` }] });
    expect(res.body.error.message).toContain('percent-encoding');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('invalid UTF-8 in a JSON body', () => {
  it('is a 400 naming the encoding, not stored with U+FFFD in place of the bad bytes', async () => {
    const body = withByte('{"provider":"stripe","code":"bad-utf8","name":"Caf', 0xe9, '","credentials":{"secretKey":"sk_test_x"}}');
    const res = await request(stack.app).post('/v1/connections').set(auth).set('Content-Type', 'application/json').serialize(asIs).send(body).expect(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_json', details: [{ path: 'body', message: 'is not valid UTF-8 (JSON must be UTF-8 encoded)' }] });
    const list = await request(stack.app).get('/v1/connections').set(auth).expect(200);
    expect(list.body.data.map((c: { code: string }) => c.code)).not.toContain('bad-utf8');
    // Valid multi-byte UTF-8 is unaffected.
    await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .set('Content-Type', 'application/json; charset=utf-8')
      .serialize(asIs)
      .send(Buffer.from(JSON.stringify({ provider: 'stripe', code: 'good-utf8', name: 'Café Ğ 🚀', credentials: { secretKey: 'sk_test_x' } })))
      .expect(201);
  });
});

describe('correctly signed webhooks with a body that is not an event', () => {
  let stripeConnection: string;
  let declarativeConnection: string;
  const stripeSecret = 'whsec_hostile';
  const pendingSecret = 'pending_hostile';

  beforeAll(async () => {
    const stripeConn = await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .send({ provider: 'stripe', code: 'stripe-hostile', name: 'Stripe', credentials: { secretKey: 'sk_test_x', webhookSecret: stripeSecret } })
      .expect(201);
    stripeConnection = stripeConn.body.id;
    const definition = YAML.parse(readFileSync('providers/pendingpay.yaml', 'utf8')) as Record<string, unknown>;
    definition.name = 'mypending';
    await request(stack.app).put('/v1/providers/mypending').set(auth).send(definition).expect(200);
    const pendingConn = await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .send({ provider: 'mypending', code: 'pending-hostile', name: 'Pending', credentials: { clientId: 'c', clientSecret: 's', webhookSecret: pendingSecret } })
      .expect(201);
    declarativeConnection = pendingConn.body.id;
  });

  const stripeBodies: [string, string][] = [
    ['not JSON', 'this is not json'],
    ['no id', JSON.stringify({ type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', status: 'succeeded' } } })],
    ['an object as id', JSON.stringify({ id: { nested: true }, type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', status: 'succeeded' } } })],
    ['no data.object', JSON.stringify({ id: 'evt_x', type: 'charge.refunded' })],
    ['an intent without metadata', JSON.stringify({ id: 'evt_y', type: 'payment_intent.succeeded', data: { object: { id: { x: 1 }, status: 'succeeded' } } })],
    ['a NUL in a stored field', JSON.stringify({ id: 'evt_z', type: 'charge.refunded', data: { object: { note: 'a\u0000' } } })],
  ];
  it.each(stripeBodies)('Stripe: %s is a 400', async (_what, payload) => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret });
    const res = await request(stack.app).post(`/v1/webhooks/${stripeConnection}`).set('Stripe-Signature', header).set('Content-Type', 'application/json').send(payload).expect(400);
    expect(res.body.error.code).toBe('webhook_payload_invalid');
  });

  const declarativeBodies: [string, string | Buffer, string?][] = [
    ['not JSON', '{oops'],
    ['no id', JSON.stringify({ type: 'txn.updated' })],
    ['an object as id', JSON.stringify({ id: { a: 1 }, type: 'txn.updated' })],
    ['nesting 3,000 deep', JSON.stringify({ id: 'evt_deep', type: 'x', data: nested(3_000, 1) })],
    ['nesting 100,000 deep', `{"id":"evt_deeper","type":"x","data":${deepText(100_000)}}`, 'nested deeper than 64 levels'],
    ['invalid UTF-8', withByte('{"id":"evt_latin1","type":"x","note":"caf', 0xe9, '"}'), 'not valid UTF-8'],
  ];
  it.each(declarativeBodies)('declarative provider: %s is a 400', async (_what, body, message) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', pendingSecret).update(`${timestamp}.`).update(body).digest('hex');
    const res = await request(stack.app)
      .post(`/v1/webhooks/${declarativeConnection}`)
      .set({ 'content-type': 'application/json', 'x-pending-signature': signature, 'x-pending-timestamp': timestamp })
      .serialize(asIs)
      .send(body)
      .expect(400);
    expect(res.body.error.code).toBe('webhook_payload_invalid');
    if (message) expect(res.body.error.message).toContain(message);
  });
});

describe('correctly signed ERP webhooks with a body that cannot be stored', () => {
  let integrationId: string;
  const secret = 'whsec_erp_hostile';
  beforeAll(async () => {
    const body = { ...defterIntegration('http://127.0.0.1:9'), type: 'webhook', credentials: { username: 'u', password: 'p', webhookSecret: secret } };
    integrationId = (await request(stack.app).post('/v1/integrations').set(auth).send(body).expect(201)).body.id;
  });

  const erpBodies: [string, string | Buffer, { code: string; details: { path: string; message: string }[] }][] = [
    [
      'nesting 100,000 deep',
      `{"id":"evt-deep","entity":"products","data":${deepText(100_000)}}`,
      { code: 'validation_failed', details: [{ path: 'body', message: 'nested deeper than 64 levels' }] },
    ],
    [
      'a NUL character',
      JSON.stringify({ id: 'evt-nul', entity: 'products', data: { StokKodu: 'a\u0000b' } }),
      { code: 'validation_failed', details: [{ path: 'body.data.StokKodu', message: 'contains a NUL character (\\u0000), which is not accepted' }] },
    ],
    [
      'invalid UTF-8',
      withByte('{"id":"evt-latin1","entity":"products","data":{"StokKodu":"caf', 0xe9, '"}}'),
      { code: 'invalid_json', details: [{ path: 'body', message: 'is not valid UTF-8 (JSON must be UTF-8 encoded)' }] },
    ],
  ];
  it.each(erpBodies)('%s is a 400 that names it', async (_what, body, error) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
    const res = await request(stack.app)
      .post(`/v1/integrations/${integrationId}/webhooks`)
      .set({ 'content-type': 'application/json', 'x-webhook-signature': signature, 'x-webhook-timestamp': timestamp })
      .serialize(asIs)
      .send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject(error);
  });
});

describe('the database down', () => {
  it('answers 503 service_unavailable with Retry-After, on authenticated and unauthenticated routes', async () => {
    const closedPort = connectPostgres('postgres://postgres@127.0.0.1:1/nowhere', { poolSize: 1 });
    const app = stack.makeApp({ database: closedPort });
    try {
      const res = await request(app).get('/v1/payments').set(auth).expect(503);
      expect(res.body.error.code).toBe('service_unavailable');
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      const webhook = await request(app).post('/v1/webhooks/con_x').send('{}').expect(503);
      expect(webhook.headers['retry-after']).toBeDefined();
    } finally {
      await closedPort.close();
    }
  });

  it('a database that does not exist (a FATAL error at connect) answers 503', async () => {
    const missing = connectPostgres(inject('adminDatabaseUrl').replace(/\/[^/]*$/, '/switchyard_no_such_database'), { poolSize: 1 });
    const app = stack.makeApp({ database: missing });
    try {
      const res = await request(app).get('/v1/tenants/me').set(auth).expect(503);
      expect(res.body.error.code).toBe('service_unavailable');
    } finally {
      await missing.close();
    }
  });

  it('a pool that was stopped answers 503 as well', async () => {
    const stopped = connectPostgres(inject('databaseUrl'), { poolSize: 1 });
    await stopped.close();
    const app = stack.makeApp({ database: stopped });
    const res = await request(app).get('/v1/tenants/me').set(auth).expect(503);
    expect(res.body.error.code).toBe('service_unavailable');
  });
});

describe('Temporal down', () => {
  it('starting a workflow answers 503 service_unavailable with Retry-After', async () => {
    const { body: conn } = await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .send({ provider: 'stripe', code: 'stripe-temporal-down', name: 'Stripe', credentials: { secretKey: 'sk_test_x' } })
      .expect(201);
    // A closed port, one attempt (the client's bounded retries would take seconds).
    const temporal = unreachableTemporalClient(1);
    const app = stack.makeApp({ temporal });
    try {
      const res = await request(app).post(`/v1/connections/${conn.id}/test`).set(auth).expect(503);
      expect(res.body.error).toMatchObject({ code: 'service_unavailable', message: expect.stringContaining('Temporal') });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await temporal.connection.close();
    }
  });
});

describe('methods a path does not support', () => {
  it('answer 405 with Allow, not 404', async () => {
    const res = await request(stack.app).delete('/v1/payments').set(auth).expect(405);
    expect(res.body.error.code).toBe('method_not_allowed');
    expect(res.headers.allow).toBe('POST, GET, HEAD');
    // A path matched by two registered routes allows the union of their methods.
    const schema = await request(stack.app).post('/v1/providers/definition-schema').expect(405);
    expect(schema.headers.allow?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PUT']);
    await request(stack.app).patch('/v1/webhooks/con_x').expect(405);
    await request(stack.app).get('/v1/nothing-here').expect(404);
  });
});

describe('requests Node refuses before the app sees them', () => {
  it('a URL over the 16 KB header limit answers 431 in the API error shape, and a bad cursor is a 400', async () => {
    const url = await stack.listen();
    const long = await fetch(`${url}/v1/catalog/products?cursor=${'%F2%AC%AC%A0'.repeat(2000)}`, { headers: auth });
    expect(long.status).toBe(431);
    expect(long.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await long.json()) as { error: { code: string } }).error.code).toBe('invalid_request');

    const bad = await fetch(`${url}/v1/customers?cursor=${encodeURIComponent('not a cursor!')}`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('query.cursor');
  });
});
