import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());
beforeEach(() => {
  f.stripe.clearFaults();
  f.acme.resetFaults();
});

describe('payment outcomes', () => {
  it('succeeds on the first choice and records why it was chosen', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    expect(p.amountCaptured).toBe(1050);
    expect(p.attempts).toHaveLength(1);
    expect(p.attempts[0]).toMatchObject({ number: 1, connectionId: m.stripeId, provider: 'stripe', status: 'succeeded' });
    expect(p.attempts[0].reason).toContain('everything');
    expect(p.gatewayReference).toMatch(/^pi_/);
    expect(f.stripe.chargeCount(id)).toBe(1);
  });

  it('falls back to the next gateway when the primary answers 503', async () => {
    const m = await setUpMerchant(f);
    f.stripe.failNext({ times: 10, status: 503, pathPrefix: '/v1/payment_intents' });
    const { id } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    expect(p.attempts.map((a: { connectionId: string; status: string }) => [a.connectionId, a.status])).toEqual([
      [m.stripeId, 'failed'],
      [m.acmeId, 'succeeded'],
    ]);
    expect(p.attempts[0]).toMatchObject({ errorClass: 'retryable' });
    expect(p.connectionId).toBe(m.acmeId);
    expect(f.stripe.chargeCount(id)).toBe(0);
    expect(f.acme.chargeCount(`${id}-2`)).toBe(1);
    await f.stack.temporal.workflow.getHandle(`payment-${id}`).result();
    recordHistoryIfAsked(`payment-${id}`, 'payment-fallback-after-503');
  });

  it('?wait answers with the outcome, fallbacks included', async () => {
    const m = await setUpMerchant(f);
    f.stripe.failNext({ times: 3, status: 503, pathPrefix: '/v1/payment_intents' });
    const res = await request(f.stack.app).post('/v1/payments?wait=20').set(m.auth).set('Idempotency-Key', crypto.randomUUID()).send(paymentBody());
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('succeeded');
    expect(res.body.attempts.map((a: { provider: string }) => a.provider)).toEqual(['stripe', 'acmepay']);
  });

  it('a hard decline stops: no fallback, classified, and the gateway stays healthy', async () => {
    const m = await setUpMerchant(f);
    const { id } = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'pm_card_chargeDeclinedInsufficientFunds' } });
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('failed');
    expect(p.attempts).toHaveLength(1);
    expect(p.attempts[0]).toMatchObject({ status: 'failed', errorClass: 'hard_decline', errorCode: 'insufficient_funds' });
    expect(p.failure.code).toBe('insufficient_funds');
    expect(f.acme.chargeCount(`${id}-2`)).toBe(0);
    const health = await request(f.stack.app).get(`/v1/connections/${m.stripeId}/health`).set(m.auth).expect(200);
    expect(health.body.circuit.window.failures).toBe(0);
  });

  it('an ambiguous failure is resolved by a status query, and the customer is charged exactly once', async () => {
    const m = await setUpMerchant(f);
    // Processed by Stripe, but the connection drops before the answer (twice: the SDK resends once).
    f.stripe.dropNext({ times: 2, pathPrefix: '/v1/payment_intents', method: 'POST' });
    const { id } = await startPayment(f, m);
    const p = await waitForPayment(f, m, id);
    expect(p.status).toBe('succeeded');
    expect(p.attempts).toHaveLength(1);
    expect(p.attempts[0]).toMatchObject({ connectionId: m.stripeId, status: 'succeeded', errorClass: 'ambiguous' });
    expect(f.stripe.chargeCount(id)).toBe(1);
    expect(f.acme.chargeCount(`${id}-2`)).toBe(0);
    const history = await f.stack.temporal.workflow.getHandle(p.workflowId).fetchHistory();
    const activities = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(activities).toContain('queryGatewayStatus');
    recordHistoryIfAsked(p.workflowId, 'payment-ambiguous-resolved');
  });

  it('runs are searchable by tenant, status and gateway, and carry no credentials', async () => {
    const m = await setUpMerchant(f);
    const { id, workflowId } = await startPayment(f, m);
    await waitForPayment(f, m, id);
    const handle = f.stack.temporal.workflow.getHandle(workflowId);
    await handle.result();
    const d = await handle.describe();
    expect(workflowId).toBe(`payment-${id}`);
    expect(d.searchAttributes).toMatchObject({ TenantId: [m.tenantId], PaymentStatus: ['succeeded'], Gateway: ['stripe'] });
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('sk_test_');
    expect(history).not.toContain(f.stripe.webhookSecret);
    expect(history).not.toContain(f.acme.apiKey);
  });
});

describe('routing', () => {
  it('routes by region and currency, and simulate explains the order without charging', async () => {
    const m = await setUpMerchant(f, (c) => [
      { name: 'EU euros', priority: 10, conditions: { regions: ['EU'], currencies: ['EUR'] }, connectionIds: [c.acmeId, c.stripeId] },
      { name: 'US dollars', priority: 20, conditions: { countries: ['US'], currencies: ['USD'] }, connectionIds: [c.stripeId] },
    ]);
    const acmeBefore = f.acme.payments().length;
    const sim = await request(f.stack.app).post('/v1/routing/simulate').set(m.auth).send({ amount: 500, currency: 'EUR', country: 'FR' }).expect(200);
    expect(sim.body.candidates.map((c: { connectionId: string }) => c.connectionId)).toEqual([m.acmeId, m.stripeId]);
    expect(sim.body.candidates[0].reason).toContain('EU euros');
    expect(f.acme.payments()).toHaveLength(acmeBefore);

    const eu = await startPayment(f, m, { currency: 'EUR', country: 'FR' });
    const us = await startPayment(f, m, { currency: 'USD', country: 'US' });
    expect((await waitForPayment(f, m, eu.id)).attempts[0].connectionId).toBe(m.acmeId);
    expect((await waitForPayment(f, m, us.id)).attempts[0].connectionId).toBe(m.stripeId);

    const none = await startPayment(f, m, { currency: 'GBP', country: 'GB' });
    const failed = await waitForPayment(f, m, none.id);
    expect(failed.status).toBe('failed');
    expect(failed.failure.code).toBe('no_route');
    expect(failed.failure.message).toContain('GBP');
  });

  it('rejects rule sets that name unknown connections or can never match', async () => {
    const m = await setUpMerchant(f);
    const res = await request(f.stack.app)
      .put('/v1/routing/rules')
      .set(m.auth)
      .send({ rules: [{ name: 'bad', priority: 1, conditions: { minAmount: 500, maxAmount: 100 }, connectionIds: ['con_nope'] }] })
      .expect(400);
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining([expect.stringContaining('connectionIds'), expect.stringContaining('minAmount')]));
    const unchanged = await request(f.stack.app).get('/v1/routing/rules').set(m.auth).expect(200);
    expect(unchanged.body.data).toHaveLength(1);
  });
});

describe('payment input', () => {
  it('refuses card numbers anywhere in the request', async () => {
    const m = await setUpMerchant(f);
    for (const body of [
      paymentBody({ paymentMethod: { type: 'card', token: '4242 4242 4242 4242' } }),
      paymentBody({ metadata: { note: 'card 4000-0566-5566-5556' } }),
    ]) {
      const res = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', crypto.randomUUID()).send(body).expect(400);
      expect(res.body.error.message).toContain('card numbers are not accepted');
      expect(JSON.stringify(res.body)).not.toMatch(/4242 4242|5556/);
    }
  });

  it('names each bad field and requires an Idempotency-Key', async () => {
    const m = await setUpMerchant(f);
    const bad = await request(f.stack.app)
      .post('/v1/payments')
      .set(m.auth)
      .set('Idempotency-Key', 'k1')
      .send({ amount: -5, currency: 'eur', country: 'Germany', paymentMethod: { type: 'cheque' } })
      .expect(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['body.amount', 'body.currency', 'body.country', 'body.paymentMethod.type', 'body.paymentMethod.token']),
    );
    const noKey = await request(f.stack.app).post('/v1/payments').set(m.auth).send(paymentBody()).expect(400);
    expect(noKey.body.error.code).toBe('idempotency_key_required');
  });
});
