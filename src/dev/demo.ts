import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { startPendingpayEmulator } from '../../emulators/gateways/pendingpay.js';
import { startStripeEmulator } from '../../emulators/stripe/index.js';
import { ErpEmulator, seedCatalog } from '../../emulators/erp/emulator.js';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { seededRandom } from '../../emulators/seeded-random.js';
import { callApi as call } from './api-call.js';
import { startDemoWebhookReceiver, type DemoReceivedEvent, type DemoWebhookReceiver } from './demo-webhook-receiver.js';

/** Fixed ports so connections made on a first run still point at the emulators after a restart. */
export const DEMO_PORTS = { stripe: 12111, acmepay: 12112, pendingpay: 12113, erp: 12114, webhooks: 12115 } as const;
/** The demo integration polls the emulated ERP this often. */
export const DEMO_ERP_INTERVAL_SECONDS = 30;
export const DEMO_STRIPE_KEY = 'sk_test_switchyard_demo';
const DEMO_STRIPE_WEBHOOK_SECRET = 'whsec_switchyard_demo';
/** What the demo tenant's webhook endpoint subscribes to (ERP and customer events would flood the terminal). */
export const DEMO_EVENT_TYPES = ['payment.*', 'refund.*'];
/**
 * Share of charges the demo's primary gateway refuses with a 503. Each attempt is tried 3 times, so
 * 0.6³ ≈ 22% of card payments fall back to AcmePay, and the circuit breaker (opens at 50% failed
 * attempts over 10+ calls) stays closed: the fallback is what the demo shows. At 0.8, 0.8³ ≈ 51% of
 * attempts fail and the circuit opens after about ten payments, so most payments skip Stripe.
 */
export const DEMO_PRIMARY_FAILURE_RATE = 0.6;

export interface DemoGateways {
  stripeUrl: string;
  acmepayUrl: string;
  pendingpayUrl: string;
  erpUrl: string;
  /** Where PendingPay sends its signed callbacks (our webhook URL for its connection). */
  setPendingpayCallback(url: string): void;
  /** The merchant's side: a receiver of Switchyard's own webhooks that verifies each and prints a line. */
  webhookReceiver: DemoWebhookReceiver;
  close(): Promise<void>;
}

/**
 * The demo's emulated gateways: Stripe (primary, failing some of the time), AcmePay, PendingPay; the
 * emulated ERP; and the merchant's webhook receiver that the demo tenant's events are delivered to.
 */
export async function startDemoGateways(
  ports: { stripe: number; acmepay: number; pendingpay: number; erp?: number; webhooks?: number } = DEMO_PORTS,
  opts: {
    /** Seeds Stripe's failure draws (a test's reproducible story); unseeded for `npm run dev`. */
    seed?: number;
    /**
     * The data folder: the emulated gateways keep their objects in `emulators/<name>.json` there, so
     * customers synced and payments taken before a restart still exist after it. Absent: in memory only.
     */
    dataDir?: string;
    /** Where the webhook receiver prints a line per event (default: the console). */
    print?: (line: string) => void;
  } = {},
): Promise<DemoGateways> {
  const stateFile = (name: string) => (opts.dataDir ? { stateFile: path.join(opts.dataDir, 'emulators', `${name}.json`) } : {});
  const stripe = await startStripeEmulator({
    port: ports.stripe,
    ...stateFile('stripe'),
    apiKeys: [DEMO_STRIPE_KEY],
    webhookSecret: DEMO_STRIPE_WEBHOOK_SECRET,
    ...(opts.seed !== undefined ? { random: seededRandom(opts.seed) } : {}),
  });
  stripe.setFailureRate(DEMO_PRIMARY_FAILURE_RATE, { pathPrefix: '/v1/payment_intents', method: 'POST' });
  const acme = await startAcmepayEmulator({ port: ports.acmepay, ...stateFile('acmepay') });
  const pending = await startPendingpayEmulator({ port: ports.pendingpay, callbackDelayMs: 2_000, ...stateFile('pendingpay') });
  const erp = new ErpEmulator({ port: ports.erp ?? 0 });
  seedCatalog(erp, 200);
  erp.setFaults({ rate429: 0.05, rate500: 0.05, retryAfterSeconds: 2 });
  await erp.start();
  const webhookReceiver = await startDemoWebhookReceiver(ports.webhooks ?? 0, opts.print);
  // The ERP keeps changing stock, so every poll has a few changes to bring over.
  let tick = 0;
  const changes = setInterval(() => {
    tick += 1;
    for (let i = 0; i < 3; i++) {
      const sku = `STK-${String(((tick * 7 + i * 31) % 200) + 1).padStart(5, '0')}`;
      erp.put('stoklar', { StokKodu: sku, Depo: 'MERKEZ', Miktar: String((tick * 13 + i) % 50) }, Date.now());
    }
  }, 20_000);
  changes.unref();
  return {
    stripeUrl: stripe.url,
    acmepayUrl: acme.url,
    pendingpayUrl: pending.url,
    erpUrl: erp.url,
    setPendingpayCallback: (url) => pending.setCallback(url),
    webhookReceiver,
    close: async () => {
      clearInterval(changes);
      await Promise.all([stripe.close(), acme.close(), pending.close(), erp.stop(), webhookReceiver.close()]);
    },
  };
}

export interface DemoTenant {
  tenantId: string;
  apiKey: string;
  connections: { stripe: string; acmepay: string; pendingpay: string };
  /** The ERP integration polling the emulated ERP (absent in files written before it existed). */
  erpIntegration?: string;
  /**
   * The webhook endpoint pointing at the demo's receiver, with its signing secret (shown by the API
   * only at creation, so kept here; absent in files written before it existed).
   */
  webhookEndpoint?: { id: string; secret: string };
}

/**
 * Points a webhook endpoint of the tenant at the demo's receiver and hands the receiver its secret:
 * the endpoint of an earlier start if it still exists (moved to the receiver's address and enabled
 * again if need be), else a new one.
 */
async function connectWebhookReceiver(
  apiUrl: string,
  apiKey: string,
  receiver: DemoWebhookReceiver,
  saved: DemoTenant['webhookEndpoint'],
): Promise<NonNullable<DemoTenant['webhookEndpoint']>> {
  if (saved) {
    const res = await fetch(`${apiUrl}/v1/webhook-endpoints/${saved.id}`, { headers: { authorization: `Bearer ${apiKey}` } });
    if (res.ok) {
      const endpoint = (await res.json()) as { url: string; enabled: boolean };
      if (endpoint.url !== receiver.url || !endpoint.enabled) {
        await call(apiUrl, apiKey, 'PATCH', `/v1/webhook-endpoints/${saved.id}`, { url: receiver.url, enabled: true });
      }
      receiver.setSecret(saved.secret);
      return saved;
    }
  }
  const created = await call<{ endpoint: { id: string }; secret: string }>(apiUrl, apiKey, 'POST', '/v1/webhook-endpoints', {
    url: receiver.url,
    eventTypes: DEMO_EVENT_TYPES,
    description: 'The receiver `npm run dev` starts',
  });
  receiver.setSecret(created.secret);
  return { id: created.endpoint.id, secret: created.secret };
}

/**
 * Points the emulated Stripe account's customer.* events at the Stripe connection's webhook URL and
 * turns customer sync on. Run at every start, with a new endpoint: its signing secret is shown only
 * when it is created. The endpoint a previous start made for the same URL is deleted first (the
 * emulator keeps endpoints across restarts), so each event is delivered once.
 */
async function connectCustomerSync(apiUrl: string, apiKey: string, stripeUrl: string, connectionId: string): Promise<void> {
  const url = `${apiUrl}/v1/webhooks/${connectionId}`;
  const auth = { authorization: `Bearer ${DEMO_STRIPE_KEY}` };
  const existing = (await (await fetch(`${stripeUrl}/v1/webhook_endpoints?limit=100`, { headers: auth })).json()) as { data: { id: string; url: string }[] };
  for (const old of existing.data.filter((e) => e.url === url)) {
    await fetch(`${stripeUrl}/v1/webhook_endpoints/${old.id}`, { method: 'DELETE', headers: auth });
  }
  const form = new URLSearchParams({ url });
  for (const type of ['customer.created', 'customer.updated', 'customer.deleted']) form.append('enabled_events[]', type);
  const res = await fetch(`${stripeUrl}/v1/webhook_endpoints`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  const endpoint = (await res.json()) as { secret?: string };
  if (!res.ok || !endpoint.secret) throw new Error(`the Stripe emulator refused the demo webhook endpoint: ${JSON.stringify(endpoint)}`);
  await call(apiUrl, apiKey, 'PATCH', `/v1/connections/${connectionId}`, {
    credentials: { secretKey: DEMO_STRIPE_KEY, webhookSecret: endpoint.secret },
    settings: { customerSync: { enabled: true } },
  });
}

/**
 * Creates the demo tenant through the public API on the first run (kept in the data folder after),
 * with a connection per emulated gateway and routing rules: cards go to Stripe, then AcmePay; bank
 * transfers go to PendingPay, which confirms by callback.
 */
export async function ensureDemoTenant(
  apiUrl: string,
  adminToken: string,
  dataDir: string,
  gateways: DemoGateways,
): Promise<DemoTenant> {
  const file = path.join(dataDir, 'demo-tenant.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoTenant;
    const probe = await fetch(`${apiUrl}/v1/tenants/me`, {
      headers: { authorization: `Bearer ${saved.apiKey}` },
    });
    if (probe.ok) {
      gateways.setPendingpayCallback(`${apiUrl}/v1/webhooks/${saved.connections.pendingpay}`);
      await connectCustomerSync(apiUrl, saved.apiKey, gateways.stripeUrl, saved.connections.stripe);
      const current: DemoTenant = {
        ...saved,
        erpIntegration: saved.erpIntegration ?? (await createDemoIntegration(apiUrl, saved.apiKey, gateways)),
        webhookEndpoint: await connectWebhookReceiver(apiUrl, saved.apiKey, gateways.webhookReceiver, saved.webhookEndpoint),
      };
      if (JSON.stringify(current) !== JSON.stringify(saved)) writeFileSync(file, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
      return current;
    }
  }
  const created = await call<{ tenant: { id: string }; apiKey: string }>(
    apiUrl,
    adminToken,
    'POST',
    '/v1/tenants',
    { name: 'Demo Merchant' },
  );
  const key = created.apiKey;
  const connect = async (body: object) =>
    (await call<{ id: string }>(apiUrl, key, 'POST', '/v1/connections', body)).id;
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
    credentials: {
      clientId: 'pp_client_demo',
      clientSecret: 'pp_secret_demo',
      webhookSecret: 'whsec_pendingpay_demo',
    },
    settings: { baseUrl: gateways.pendingpayUrl },
  });
  await call(apiUrl, key, 'PUT', '/v1/routing/rules', {
    rules: [
      {
        name: 'Bank transfers confirm asynchronously',
        priority: 10,
        conditions: { paymentMethods: ['bank_transfer'] },
        connectionIds: [pendingpay],
      },
      {
        name: 'Cards: Stripe first, AcmePay as fallback',
        priority: 20,
        conditions: { paymentMethods: ['card'] },
        connectionIds: [stripe, acmepay],
      },
    ],
  });
  gateways.setPendingpayCallback(`${apiUrl}/v1/webhooks/${pendingpay}`);
  await connectCustomerSync(apiUrl, key, gateways.stripeUrl, stripe);
  const erpIntegration = await createDemoIntegration(apiUrl, key, gateways);
  const webhookEndpoint = await connectWebhookReceiver(apiUrl, key, gateways.webhookReceiver, undefined);
  const demo: DemoTenant = { tenantId: created.tenant.id, apiKey: key, connections: { stripe, acmepay, pendingpay }, erpIntegration, webhookEndpoint };
  writeFileSync(file, JSON.stringify(demo, null, 2) + '\n', { mode: 0o600 });
  return demo;
}

/** What a run of demo payments showed. */
export interface DemoRunSummary {
  payments: number;
  /** Paid by AcmePay after a failed Stripe attempt. */
  fellBack: number;
  /** Routed straight to AcmePay because Stripe's circuit was open. */
  skippedStripe: number;
  /** Stripe's circuit state after each payment. */
  circuitAfter: Record<'closed' | 'open' | 'half_open', number>;
}

interface DemoPayment {
  id: string;
  status: string;
  attempts: { connectionId: string; provider: string; status: string }[];
  routing: { skipped: { connectionId: string; reason: string }[] } | null;
}
interface DemoHealth {
  circuit: {
    state: 'closed' | 'open' | 'half_open';
    window: { calls: number; failures: number; failureRate: number };
  };
}

/**
 * Sends `count` card payments one after another and prints, for each, where it went and the state
 * of Stripe's circuit breaker, then a summary: what the README promises, measured.
 */
export async function runDemoPayments(
  apiUrl: string,
  tenant: DemoTenant,
  count: number,
  print: (line: string) => void = console.log,
): Promise<DemoRunSummary> {
  const summary: DemoRunSummary = {
    payments: 0,
    fellBack: 0,
    skippedStripe: 0,
    circuitAfter: { closed: 0, open: 0, half_open: 0 },
  };
  for (let i = 1; i <= count; i++) {
    const created = await fetch(`${apiUrl}/v1/payments?wait=30`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': `demo-${Date.now()}-${i}`,
      },
      body: JSON.stringify({
        amount: 1999,
        currency: 'EUR',
        country: 'DE',
        paymentMethod: { type: 'card', token: 'pm_card_visa' },
      }),
    });
    const payment = (await created.json()) as DemoPayment;
    const route = payment.attempts.map((a) => `${a.provider}:${a.status}`).join(' → ');
    const skipped =
      payment.routing?.skipped.some((s) => s.connectionId === tenant.connections.stripe) ?? false;
    const fellBack =
      payment.attempts.length > 1 && payment.attempts[0]?.connectionId === tenant.connections.stripe;
    const health = await call<DemoHealth>(
      apiUrl,
      tenant.apiKey,
      'GET',
      `/v1/connections/${tenant.connections.stripe}/health`,
    );
    const { state, window } = health.circuit;
    summary.payments += 1;
    if (fellBack) summary.fellBack += 1;
    if (skipped) summary.skippedStripe += 1;
    summary.circuitAfter[state] += 1;
    const how = skipped
      ? 'Stripe skipped (circuit open)'
      : fellBack
        ? 'fell back to AcmePay'
        : 'paid by Stripe';
    print(
      `#${i} ${payment.id} ${payment.status}: ${route}  [${how}]  Stripe circuit: ${state} (${window.failures}/${window.calls} attempts failed in the window)`,
    );
  }
  const pct = (n: number) => `${Math.round((100 * n) / Math.max(summary.payments, 1))}%`;
  print(
    `${summary.payments} card payments: ${summary.fellBack} fell back to AcmePay (${pct(summary.fellBack)}), ${summary.skippedStripe} skipped Stripe because its circuit was open (${pct(summary.skippedStripe)}); circuit after each payment: ${JSON.stringify(summary.circuitAfter)}`,
  );
  return summary;
}

/** What the demo's bank transfer showed. */
export interface DemoBankTransfer {
  paymentId: string;
  /** The status the API answered with (before PendingPay's callback). */
  answered: string;
  /** Its `payment.succeeded` as the receiver took it, or undefined if none came in time. */
  succeeded: DemoReceivedEvent | undefined;
}

/**
 * Sends one bank transfer (routed to PendingPay, which answers pending and confirms by signed callback
 * about two seconds later) and waits for its `payment.succeeded` to reach the demo's webhook receiver,
 * which prints it as it arrives.
 */
export async function runDemoBankTransfer(
  apiUrl: string,
  tenant: DemoTenant,
  receiver: DemoWebhookReceiver,
  print: (line: string) => void = console.log,
  timeoutMs = 30_000,
): Promise<DemoBankTransfer> {
  const res = await fetch(`${apiUrl}/v1/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json', 'idempotency-key': `demo-bank-transfer-${Date.now()}` },
    body: JSON.stringify({ amount: 4999, currency: 'EUR', country: 'DE', paymentMethod: { type: 'bank_transfer', token: 'tok_bank' } }),
  });
  const payment = (await res.json()) as { id: string; status: string };
  if (!res.ok) throw new Error(`POST /v1/payments answered ${res.status}: ${JSON.stringify(payment)}`);
  print(`  bank transfer ${payment.id}: the API answered ${payment.status}; PendingPay confirms it by callback in about 2 s`);
  const succeeded = await receiver.waitFor((e) => e.body.type === 'payment.succeeded' && e.body.resource.id === payment.id, timeoutMs);
  if (!succeeded) {
    print(`  no payment.succeeded for ${payment.id} within ${Math.round(timeoutMs / 1000)} s; each attempt: GET /v1/webhook-endpoints/${tenant.webhookEndpoint?.id ?? '<id>'}/deliveries`);
  }
  return { paymentId: payment.id, answered: payment.status, succeeded };
}

/** An integration with the emulated ERP, polled every DEMO_ERP_INTERVAL_SECONDS by its schedules. */
async function createDemoIntegration(apiUrl: string, key: string, gateways: DemoGateways): Promise<string> {
  const body = defterIntegration(gateways.erpUrl, 50, DEMO_ERP_INTERVAL_SECONDS);
  return (await call<{ id: string }>(apiUrl, key, 'POST', '/v1/integrations', { ...body, name: 'Defter ERP (emulated)' })).id;
}
