import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRIPE_KEY, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  // Callbacks only: polling is pushed far out so a pass proves the webhook did the work.
  f = await startPaymentsFixture({ paymentTiming: { callbackTimeoutMs: 120_000 } });
});
afterAll(async () => f?.close());

describe('Stripe callbacks', () => {
  it('a processing PaymentIntent completes through a Stripe-signed payment_intent.succeeded webhook', async () => {
    const t = await f.stack.createTenant();
    // Register our endpoint with (emulated) Stripe the way a merchant would, and keep the secret it returns.
    const port = Number(new URL(f.stripe.url).port);
    const stripe = new Stripe(STRIPE_KEY, { host: '127.0.0.1', port, protocol: 'http' });
    const draft = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey: STRIPE_KEY } })
      .expect(201);
    const endpoint = await stripe.webhookEndpoints.create({ url: `${f.baseUrl}/v1/webhooks/${draft.body.id}`, enabled_events: ['payment_intent.succeeded', 'payment_intent.payment_failed'] });
    await request(f.stack.app)
      .patch(`/v1/connections/${draft.body.id}`)
      .set(t.auth)
      .send({ credentials: { secretKey: STRIPE_KEY, webhookSecret: endpoint.secret! } })
      .expect(200);
    await request(f.stack.app).put('/v1/routing/rules').set(t.auth).send({ rules: [{ name: 'stripe', priority: 1, connectionIds: [draft.body.id] }] }).expect(200);
    const m = { tenantId: t.id, auth: t.auth, stripeId: draft.body.id, acmeId: '', pendingId: '' };

    const { id, workflowId } = await startPayment(f, m, { paymentMethod: { type: 'card', token: 'pm_emulator_processing' } });
    const p = await waitForPayment(f, m, id, ['succeeded'], 20_000);
    expect(p.attempts[0]).toMatchObject({ status: 'succeeded', connectionId: m.stripeId });
    const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
    const signals = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'gatewayCallback');
    expect(signals.length).toBeGreaterThanOrEqual(1);
    const polled = (history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'queryGatewayStatus');
    expect(polled).toBe(false);

    await stripe.webhookEndpoints.del(endpoint.id);
  });

  it('refuses a Stripe webhook signed with another secret', async () => {
    const t = await f.stack.createTenant();
    const conn = await request(f.stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey: STRIPE_KEY, webhookSecret: 'whsec_right' } })
      .expect(201);
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', object: 'payment_intent', status: 'succeeded', metadata: {} } } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_wrong' });
    const res = await request(f.stack.app)
      .post(`/v1/webhooks/${conn.body.id}`)
      .set('Stripe-Signature', header)
      .set('Content-Type', 'application/json')
      .send(payload)
      .expect(400);
    expect(res.body.error.code).toBe('webhook_signature_invalid');
    const good = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_right' });
    const ok = await request(f.stack.app).post(`/v1/webhooks/${conn.body.id}`).set('Stripe-Signature', good).set('Content-Type', 'application/json').send(payload).expect(200);
    expect(ok.body).toMatchObject({ received: true, eventId: 'evt_1', duplicate: false });
  });
});
