import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_QUOTAS } from '../../src/stores/platform/quota-store.js';
import { listen, type ListeningServer } from '../../src/api/server.js';
import { DEMO_ERP_INTERVAL_SECONDS, DEMO_STRIPE_KEY, ensureDemoTenant, startDemoGateways, type DemoGateways } from '../../src/dev/demo.js';
import { createDeclarativeProviderFactory, loadProviderDefinitions } from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { eventually } from '../support/customers-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * `npm run dev` restarted: the emulated gateways start again from the data folder. A customer synced
 * to the emulated Stripe before the restart must still exist there after it, so its next change syncs
 * (before, Stripe came back empty and the change failed with "No such customer").
 */
const dataDir = mkdtempSync(path.join(tmpdir(), 'demo-restart-'));
let gateways: DemoGateways;
let stack: TestStack;
let api: ListeningServer;
let apiUrl: string;
const port = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  gateways = await startDemoGateways({ stripe: 0, acmepay: 0, pendingpay: 0, erp: 0 }, { seed: 2026, dataDir });
  const definitions = await loadProviderDefinitions('providers');
  stack = await startTestStack({
    providers: [
      createStripeProviderFactory({ apiUrl: gateways.stripeUrl }),
      ...definitions.map((d) => createDeclarativeProviderFactory(d, { fetch: createEgressFetch({ allowPrivateNetworks: true }) })),
    ],
  });
  // As `npm run dev` does: the demo integration polls faster than production's minimum.
  api = await listen(stack.makeApp({ quotas: { ...DEFAULT_TENANT_QUOTAS, erp_min_poll_interval_seconds: DEMO_ERP_INTERVAL_SECONDS } }), '127.0.0.1', 0);
  apiUrl = api.url;
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
  await gateways?.close();
});

describe('the demo after a restart', () => {
  it('keeps the emulated Stripe customers, so a change made after the restart syncs', async () => {
    const tenant = await ensureDemoTenant(apiUrl, stack.adminToken, dataDir, gateways);
    const auth = { Authorization: `Bearer ${tenant.apiKey}` };
    const created = await request(stack.app).post('/v1/customers').set(auth).set('Idempotency-Key', randomUUID()).send({ email: 'ada@example.com', name: 'Ada' }).expect(201);
    const id = created.body.id as string;
    const inSyncAt = (version: number) =>
      eventually(`customer ${id} in sync at v${version}`, async () => {
        const sync = (await request(stack.app).get(`/v1/customers/${id}/sync`).set(auth).expect(200)).body as { systems: { remoteId: string | null; state: string; lastSyncedVersion: number }[] };
        const stripe = sync.systems[0];
        return stripe?.remoteId && stripe.state === 'in_sync' && stripe.lastSyncedVersion >= version ? stripe.remoteId : undefined;
      });
    const remoteId = await inSyncAt(created.body.version);

    await gateways.close();
    const ports = { stripe: port(gateways.stripeUrl), acmepay: port(gateways.acmepayUrl), pendingpay: port(gateways.pendingpayUrl), erp: port(gateways.erpUrl) };
    gateways = await startDemoGateways(ports, { seed: 2026, dataDir });
    await ensureDemoTenant(apiUrl, stack.adminToken, dataDir, gateways);

    const changed = await request(stack.app).patch(`/v1/customers/${id}`).set(auth).send({ name: 'Ada Lovelace' }).expect(200);
    expect(await inSyncAt(changed.body.version)).toBe(remoteId);
    const sdk = new Stripe(DEMO_STRIPE_KEY, { host: '127.0.0.1', port: ports.stripe, protocol: 'http', maxNetworkRetries: 0 });
    expect(await sdk.customers.retrieve(remoteId)).toMatchObject({ id: remoteId, name: 'Ada Lovelace', email: 'ada@example.com' });
    // Each start points the customer events at the API afresh; the endpoint of the previous start is gone.
    const endpoints = await sdk.webhookEndpoints.list();
    expect(endpoints.data.filter((e) => e.url === `${apiUrl}/v1/webhooks/${tenant.connections.stripe}`)).toHaveLength(1);
  });
});
