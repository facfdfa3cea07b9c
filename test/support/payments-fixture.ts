import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { expect } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { startAcmepayEmulator, type AcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { startPendingpayEmulator, type PendingpayEmulator } from '../../emulators/gateways/pendingpay.js';
import { createDeclarativeProviderFactory, loadProviderDefinitions } from '../../src/providers/declarative/index.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import type { ProviderFactory } from '../../src/providers/types.js';
import { startTestStack, type TestStack, type TestStackOptions } from './stack.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';

export const STRIPE_KEY = 'sk_test_switchyard_primary';
const FINAL = ['succeeded', 'authorized', 'failed', 'canceled', 'refunded', 'partially_refunded'];

/** Three emulated gateways (Stripe, AcmePay: synchronous, PendingPay: confirms by callback) and a stack. */
export interface PaymentsFixture {
  stack: TestStack;
  stripe: RunningStripeEmulator;
  acme: AcmepayEmulator;
  pending: PendingpayEmulator;
  /** The API served on loopback (gateway callbacks need a real URL). */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startPaymentsFixture(
  opts: TestStackOptions & { extraProviders?: ProviderFactory[]; stripeUrl?: string } = {},
): Promise<PaymentsFixture> {
  const [stripe, acme, pending] = await Promise.all([
    startStripeEmulator({ apiKeys: [STRIPE_KEY] }),
    startAcmepayEmulator(),
    startPendingpayEmulator({ callbackDelayMs: 100 }),
  ]);
  const definitions = await loadProviderDefinitions('providers');
  const stack = await startTestStack({
    ...opts,
    providers: [
      createStripeProviderFactory({ apiUrl: opts.stripeUrl ?? stripe.url }),
      ...definitions.map((d) => createDeclarativeProviderFactory(d, { fetch: createEgressFetch({ allowPrivateNetworks: true }) })),
      ...(opts.extraProviders ?? []),
    ],
  });
  const baseUrl = await stack.listen();
  return {
    stack,
    stripe,
    acme,
    pending,
    baseUrl,
    async close() {
      await stack.close();
      await Promise.all([stripe.close(), acme.close(), pending.close()]);
    },
  };
}

export interface MerchantSetup {
  tenantId: string;
  auth: { Authorization: string };
  stripeId: string;
  acmeId: string;
  pendingId: string;
}

/** A tenant with one connection per emulated gateway and, by default, one rule: Stripe, then AcmePay. */
export async function setUpMerchant(f: PaymentsFixture, rules?: (c: MerchantSetup) => unknown[]): Promise<MerchantSetup> {
  const t = await f.stack.createTenant();
  const create = async (body: object) => (await request(f.stack.app).post('/v1/connections').set(t.auth).send(body).expect(201)).body.id as string;
  const stripeId = await create({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey: STRIPE_KEY, webhookSecret: f.stripe.webhookSecret } });
  const acmeId = await create({
    provider: 'acmepay',
    code: 'acme',
    name: 'AcmePay',
    credentials: { accountId: f.acme.accountId, apiKey: f.acme.apiKey },
    settings: { baseUrl: f.acme.url },
  });
  const pendingId = await create({
    provider: 'pendingpay',
    code: 'pending',
    name: 'PendingPay',
    credentials: { clientId: f.pending.clientId, clientSecret: f.pending.clientSecret, webhookSecret: f.pending.callbackSecret },
    settings: { baseUrl: f.pending.url },
  });
  const setup = { tenantId: t.id, auth: t.auth, stripeId, acmeId, pendingId };
  const ruleSet = rules?.(setup) ?? [{ name: 'everything', priority: 10, connectionIds: [stripeId, acmeId] }];
  await request(f.stack.app).put('/v1/routing/rules').set(t.auth).send({ rules: ruleSet }).expect(200);
  return setup;
}

export function paymentBody(overrides: Record<string, unknown> = {}) {
  return {
    amount: 1050,
    currency: 'EUR',
    country: 'DE',
    paymentMethod: { type: 'card', token: 'pm_card_visa' },
    ...overrides,
  };
}

export async function startPayment(f: PaymentsFixture, m: MerchantSetup, overrides: Record<string, unknown> = {}, key = randomUUID()) {
  const res = await request(f.stack.app).post('/v1/payments').set(m.auth).set('Idempotency-Key', key).send(paymentBody(overrides));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { id: string; workflowId: string };
}

/** Polls the API until the payment reaches one of `statuses` (default: any final status). */
export async function waitForPayment(f: PaymentsFixture, m: MerchantSetup, id: string, statuses = FINAL, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(f.stack.app).get(`/v1/payments/${id}`).set(m.auth).expect(200);
    if (statuses.includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`payment ${id} still ${res.body.status} after ${timeoutMs} ms: ${JSON.stringify(res.body.attempts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
