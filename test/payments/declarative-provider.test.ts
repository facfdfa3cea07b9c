import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeclarativeProviderFactory, loadProviderDefinitions } from '../../src/providers/declarative/index.js';
import { startPaymentsFixture, startPayment, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';

/**
 * A gateway nobody wrote code for: "ExamplePay", described only by this file. It happens to talk to
 * the AcmePay emulator's wire format, but with its own auth (bearer), mappings and error table.
 */
const EXAMPLEPAY_YAML = `
name: examplepay
displayName: ExamplePay
version: '0.1.0'
baseUrl: "{{settings.baseUrl}}"
credentials:
  - name: token
    description: API token
settings:
  - name: baseUrl
    required: true
auth:
  type: bearer
  token: '{{credentials.token}}'
statusMap:
  CAPTURED: succeeded
  AUTHORIZED: authorized
  DECLINED: failed
  CANCELED: canceled
errors:
  codePath: error.code
  rules:
    - code: insufficient_funds
      classification: hard_decline
actions:
  authorize:
    method: POST
    path: /v1/payments
    idempotencyHeader: Idempotency-Key
    body:
      encoding: json
      template:
        amount: '{{amount | minor_to_decimal}}'
        currency: '{{currency | upper}}'
        source: '{{paymentMethod}}'
        merchant_reference: '{{idempotencyKey}}'
    response:
      reference: payment.id
      status: payment.state
      declineCode: payment.decline_reason
  statusByMerchantReference:
    method: GET
    path: /v1/payments
    query:
      merchant_reference: '{{idempotencyKey}}'
    response:
      reference: data[0].id
      status: data[0].state
  health:
    method: GET
    path: /health
capabilities:
  currencies: [EUR, USD]
  countries: [DE, US]
  paymentMethods: [card]
  captureModes: [automatic]
`;

let f: PaymentsFixture;
beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'providers-'));
  writeFileSync(path.join(dir, 'examplepay.yaml'), EXAMPLEPAY_YAML);
  const [definition] = await loadProviderDefinitions(dir);
  f = await startPaymentsFixture({
    extraProviders: [createDeclarativeProviderFactory(definition!, { fetch: createEgressFetch({ allowPrivateNetworks: true }) })],
  });
});
afterAll(async () => f?.close());

async function merchantWith(provider: string) {
  return merchantWithTenant(await f.stack.createTenant(), provider);
}

describe('a provider added by a config file only', () => {
  it('charges, declines and respects its declared capabilities', async () => {
    const m = await merchantWith('examplepay');
    expect(m.connectionId).toMatch(/^con_/);
    const ok = await startPayment(f, m, { amount: 1999 });
    const paid = await waitForPayment(f, m, ok.id);
    expect(paid.status).toBe('succeeded');
    expect(paid.attempts[0]).toMatchObject({ provider: 'examplepay', connectionId: m.connectionId });
    expect(f.acme.payments().find((p) => p.merchant_reference === `${ok.id}-1`)).toMatchObject({ amount: '19.99', currency: 'EUR' });

    const declined = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'tok_insufficient_funds' } });
    const failed = await waitForPayment(f, m, declined.id);
    expect(failed.status).toBe('failed');
    expect(failed.attempts[0]).toMatchObject({ errorClass: 'hard_decline', errorCode: 'insufficient_funds' });

    const outside = await request(f.stack.app).post('/v1/routing/simulate').set(m.auth).send({ amount: 100, currency: 'GBP', country: 'GB' }).expect(200);
    expect(outside.body.candidates).toEqual([]);
    expect(outside.body.skipped[0].reason).toMatch(/GBP|GB/);
  });
});

describe('a provider added by a tenant through the API', () => {
  it('is validated with paths, visible to that tenant only, and works end to end', async () => {
    const t = await f.stack.createTenant();
    const definition = { ...(parseYaml(EXAMPLEPAY_YAML) as Record<string, unknown>), name: 'mypay' };

    const broken = await request(f.stack.app)
      .put('/v1/providers/mypay')
      .set(t.auth)
      .send({ ...definition, actions: { authorize: { method: 'POST' } } })
      .expect(400);
    expect(broken.body.error.details.map((d: { path: string }) => d.path).join(' ')).toContain('body.actions.authorize');

    await request(f.stack.app).put('/v1/providers/mypay').set(t.auth).send(definition).expect(200);
    const listed = await request(f.stack.app).get('/v1/providers').set(t.auth).expect(200);
    expect(listed.body.data).toContainEqual(expect.objectContaining({ name: 'mypay', source: 'tenant' }));

    const other = await f.stack.createTenant();
    const refused = await request(f.stack.app)
      .post('/v1/connections')
      .set(other.auth)
      .send({ provider: 'mypay', code: 'x', name: 'x', credentials: { token: 't' } });
    expect(refused.status).toBe(400);

    const m = await merchantWithTenant(t, 'mypay');
    const { id } = await startPayment(f, m);
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
  });
});

describe('routing uses every declared capability', () => {
  it("skips a tenant provider whose currencies exclude the payment, and any gateway without the payment's capture mode", async () => {
    const t = await f.stack.createTenant();
    const definition = { ...(parseYaml(EXAMPLEPAY_YAML) as Record<string, unknown>), name: 'eurpay' };
    await request(f.stack.app).put('/v1/providers/eurpay').set(t.auth).send(definition).expect(200);
    const m = await merchantWithTenant(t, 'eurpay');
    const acme = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'AcmePay', credentials: { accountId: f.acme.accountId, apiKey: f.acme.apiKey }, settings: { baseUrl: f.acme.url } })
      .expect(201);
    await request(f.stack.app)
      .put('/v1/routing/rules')
      .set(t.auth)
      .send({ rules: [{ name: 'all', priority: 1, connectionIds: [m.connectionId, acme.body.id] }] })
      .expect(200);

    // eurpay declares EUR and USD only: a GBP payment goes straight to AcmePay.
    const { id } = await startPayment(f, m, { currency: 'GBP', country: 'GB' });
    const paid = await waitForPayment(f, m, id);
    expect(paid.attempts.map((a: { provider: string }) => a.provider)).toEqual(['acmepay']);
    expect(paid.routing.skipped).toEqual([expect.objectContaining({ connectionId: m.connectionId, reason: expect.stringContaining('does not support currency GBP') })]);

    // eurpay declares captureModes [automatic]: a manual-capture payment must never reach it.
    const manual = await request(f.stack.app)
      .post('/v1/routing/simulate')
      .set(m.auth)
      .send({ amount: 100, currency: 'EUR', country: 'DE', captureMode: 'manual' })
      .expect(200);
    expect(manual.body.candidates.map((c: { provider: string }) => c.provider)).toEqual(['acmepay']);
    expect(manual.body.skipped[0].reason).toContain('does not support manual capture');

    // …and a real manual-capture payment is routed the same way: authorized at AcmePay, eurpay never called.
    const acmeBefore = f.acme.payments().length;
    const real = await startPayment(f, m, { captureMode: 'manual', amount: 700 });
    const authorized = await waitForPayment(f, m, real.id);
    expect(authorized).toMatchObject({ status: 'authorized', amountCaptured: 0 });
    expect(authorized.attempts.map((a: { provider: string }) => a.provider)).toEqual(['acmepay']);
    expect(authorized.routing.skipped).toEqual([expect.objectContaining({ connectionId: m.connectionId, reason: expect.stringContaining('does not support manual capture') })]);
    const atAcme = f.acme.payments().slice(acmeBefore);
    expect(atAcme).toHaveLength(1);
    expect(atAcme[0]).toMatchObject({ state: 'AUTHORIZED', merchant_reference: expect.stringContaining(real.id) });
  });
});

async function merchantWithTenant(t: { id: string; auth: { Authorization: string } }, provider: string) {
  const conn = await request(f.stack.app)
    .post('/v1/connections')
    .set(t.auth)
    .send({ provider, code: 'example', name: 'Example', credentials: { token: f.acme.apiKey }, settings: { baseUrl: f.acme.url } });
  expect(conn.status, JSON.stringify(conn.body)).toBe(201);
  await request(f.stack.app).put('/v1/routing/rules').set(t.auth).send({ rules: [{ name: 'all', priority: 1, connectionIds: [conn.body.id] }] }).expect(200);
  return { tenantId: t.id, auth: t.auth, connectionId: conn.body.id as string, stripeId: '', acmeId: '', pendingId: '' };
}
