import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { startPendingpayEmulator } from '../../emulators/gateways/pendingpay.js';
import { startStripeEmulator } from '../../emulators/stripe/index.js';

/** Fixed ports so connections made on a first run still point at the emulators after a restart. */
export const DEMO_PORTS = { stripe: 12111, acmepay: 12112, pendingpay: 12113 } as const;
export const DEMO_STRIPE_KEY = 'sk_test_switchyard_demo';
const DEMO_STRIPE_WEBHOOK_SECRET = 'whsec_switchyard_demo';
/** Share of charges the demo's primary gateway refuses with a 503 (each attempt is tried 3 times). */
export const DEMO_PRIMARY_FAILURE_RATE = 0.8;

export interface DemoGateways {
  stripeUrl: string;
  acmepayUrl: string;
  pendingpayUrl: string;
  /** Where PendingPay sends its signed callbacks (our webhook URL for its connection). */
  setPendingpayCallback(url: string): void;
  close(): Promise<void>;
}

/** The demo's emulated gateways: Stripe (primary, failing some of the time), AcmePay, PendingPay. */
export async function startDemoGateways(): Promise<DemoGateways> {
  const stripe = await startStripeEmulator({ port: DEMO_PORTS.stripe, apiKeys: [DEMO_STRIPE_KEY], webhookSecret: DEMO_STRIPE_WEBHOOK_SECRET });
  stripe.setFailureRate(DEMO_PRIMARY_FAILURE_RATE, { pathPrefix: '/v1/payment_intents', method: 'POST' });
  const acme = await startAcmepayEmulator({ port: DEMO_PORTS.acmepay });
  const pending = await startPendingpayEmulator({ port: DEMO_PORTS.pendingpay, callbackDelayMs: 2_000 });
  return {
    stripeUrl: stripe.url,
    acmepayUrl: acme.url,
    pendingpayUrl: pending.url,
    setPendingpayCallback: (url) => pending.setCallback(url),
    close: async () => {
      await Promise.all([stripe.close(), acme.close(), pending.close()]);
    },
  };
}

export interface DemoTenant {
  tenantId: string;
  apiKey: string;
  connections: { stripe: string; acmepay: string; pendingpay: string };
}

async function call<T>(apiUrl: string, token: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Creates the demo tenant through the public API on the first run (kept in the data folder after),
 * with a connection per emulated gateway and routing rules: cards go to Stripe, then AcmePay; bank
 * transfers go to PendingPay, which confirms by callback.
 */
export async function ensureDemoTenant(apiUrl: string, adminToken: string, dataDir: string, gateways: DemoGateways): Promise<DemoTenant> {
  const file = path.join(dataDir, 'demo-tenant.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoTenant;
    const probe = await fetch(`${apiUrl}/v1/tenants/me`, { headers: { authorization: `Bearer ${saved.apiKey}` } });
    if (probe.ok) {
      gateways.setPendingpayCallback(`${apiUrl}/v1/webhooks/${saved.connections.pendingpay}`);
      return saved;
    }
  }
  const created = await call<{ tenant: { id: string }; apiKey: string }>(apiUrl, adminToken, 'POST', '/v1/tenants', { name: 'Demo Merchant' });
  const key = created.apiKey;
  const connect = async (body: object) => (await call<{ id: string }>(apiUrl, key, 'POST', '/v1/connections', body)).id;
  const stripe = await connect({
    provider: 'stripe',
    code: 'stripe-primary',
    name: 'Stripe (emulated, fails some of the time)',
    credentials: { secretKey: DEMO_STRIPE_KEY, webhookSecret: DEMO_STRIPE_WEBHOOK_SECRET },
  });
  const acmepay = await connect({
    provider: 'acmepay',
    code: 'acmepay-fallback',
    name: 'AcmePay (emulated)',
    credentials: { accountId: 'acct_demo', apiKey: 'acme_test_key' },
    settings: { baseUrl: gateways.acmepayUrl },
  });
  const pendingpay = await connect({
    provider: 'pendingpay',
    code: 'pendingpay-async',
    name: 'PendingPay (emulated, confirms by callback)',
    credentials: { clientId: 'pp_client_demo', clientSecret: 'pp_secret_demo', webhookSecret: 'whsec_pendingpay_demo' },
    settings: { baseUrl: gateways.pendingpayUrl },
  });
  await call(apiUrl, key, 'PUT', '/v1/routing/rules', {
    rules: [
      { name: 'Bank transfers confirm asynchronously', priority: 10, conditions: { paymentMethods: ['bank_transfer'] }, connectionIds: [pendingpay] },
      { name: 'Cards: Stripe first, AcmePay as fallback', priority: 20, conditions: { paymentMethods: ['card'] }, connectionIds: [stripe, acmepay] },
    ],
  });
  gateways.setPendingpayCallback(`${apiUrl}/v1/webhooks/${pendingpay}`);
  const demo: DemoTenant = { tenantId: created.tenant.id, apiKey: key, connections: { stripe, acmepay, pendingpay } };
  writeFileSync(file, JSON.stringify(demo, null, 2) + '\n', { mode: 0o600 });
  return demo;
}
