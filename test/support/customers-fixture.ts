import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import request from 'supertest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack, type TestStackOptions } from './stack.js';

/** The API, a worker set and the Stripe emulator, wired so that customer.* events reach /v1/webhooks. */
export interface CustomersFixture {
  stack: TestStack;
  stripe: RunningStripeEmulator;
  baseUrl: string;
  close(): Promise<void>;
}

/** `extraProviders`: systems synced beside Stripe (e.g. a declarative CRM). */
export async function startCustomersFixture(
  opts: TestStackOptions & { stripeUrl?: string; extraProviders?: NonNullable<TestStackOptions['providers']> } = {},
): Promise<CustomersFixture> {
  const stripe = await startStripeEmulator();
  const { extraProviders = [], ...stackOptions } = opts;
  const stack = await startTestStack({
    ...stackOptions,
    providers: [createStripeProviderFactory({ apiUrl: opts.stripeUrl ?? stripe.url }), ...extraProviders],
  });
  const baseUrl = await stack.listen();
  return {
    stack,
    stripe,
    baseUrl,
    async close() {
      await stack.close();
      await stripe.close();
    },
  };
}

export interface SyncTenant {
  tenantId: string;
  auth: { Authorization: string };
  connectionId: string;
  secretKey: string;
  /** Signs the emulated Stripe account's deliveries to this tenant's webhook URL. */
  webhookSecret: string;
  /** The official SDK on the tenant's emulated Stripe account (the "other side"). */
  sdk: Stripe;
}

/**
 * A tenant whose own emulated Stripe account (one secret key each) syncs customers, with a webhook
 * endpoint pointing at the connection's webhook URL. With sync on, waits for the backfill that turning
 * it on starts (unless `awaitBackfill: false`, e.g. while no worker runs), so tests start from a quiet state.
 */
export async function setUpSyncTenant(
  f: CustomersFixture,
  customerSync: Record<string, unknown> = { enabled: true },
  opts: { awaitBackfill?: boolean } = {},
): Promise<SyncTenant> {
  const t = await f.stack.createTenant();
  const secretKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
  const sdk = new Stripe(secretKey, { host: '127.0.0.1', port: f.stripe.port, protocol: 'http', maxNetworkRetries: 0 });
  const conn = await request(f.stack.app)
    .post('/v1/connections')
    .set(t.auth)
    .send({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey }, settings: { customerSync } })
    .expect(201);
  const endpoint = await sdk.webhookEndpoints.create({
    url: `${f.baseUrl}/v1/webhooks/${conn.body.id}`,
    enabled_events: ['customer.created', 'customer.updated', 'customer.deleted'],
  });
  await request(f.stack.app)
    .patch(`/v1/connections/${conn.body.id}`)
    .set(t.auth)
    .send({ credentials: { secretKey, webhookSecret: endpoint.secret } })
    .expect(200);
  if (customerSync['enabled'] === true && opts.awaitBackfill !== false) {
    await eventually('the backfill of a new connection', async () => {
      const runs = await request(f.stack.app).get(`/v1/connections/${conn.body.id}/sync/runs`).set(t.auth).expect(200);
      return (runs.body.data as { trigger: string; status: string }[]).some((r) => r.trigger === 'connect' && r.status === 'completed') ? true : undefined;
    });
  }
  return { tenantId: t.id, auth: t.auth, connectionId: conn.body.id, secretKey, webhookSecret: endpoint.secret!, sdk };
}

/** Polls until `check` returns a value (not undefined), or fails naming what was awaited. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function createCustomer(f: CustomersFixture, t: SyncTenant, body: object) {
  const res = await request(f.stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', randomUUID()).send(body).expect(201);
  return res.body as { id: string; version: number };
}

export async function getCustomer(f: CustomersFixture, t: SyncTenant, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}`).set(t.auth).expect(200)).body as Record<string, unknown> & { version: number; deleted: boolean };
}

export async function syncOf(f: CustomersFixture, t: SyncTenant, id: string) {
  return (await request(f.stack.app).get(`/v1/customers/${id}/sync`).set(t.auth).expect(200)).body as {
    version: number;
    systems: { remoteId: string | null; state: string; lastSyncedVersion: number }[];
    conflicts: { field: string; localValue: unknown; remoteValue: unknown; decision: string; policy: string }[];
  };
}

/** The Stripe customer of a local one, once the sync created it and caught up with `version`. */
export async function syncedRemote(f: CustomersFixture, t: SyncTenant, id: string, version?: number) {
  return eventually(`customer ${id} in sync${version ? ` at v${version}` : ''}`, async () => {
    const s = await syncOf(f, t, id);
    const m = s.systems[0];
    if (!m?.remoteId || m.state !== 'in_sync' || (version !== undefined && m.lastSyncedVersion < version)) return undefined;
    return m.remoteId;
  });
}
