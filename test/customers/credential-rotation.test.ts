/**
 * A refresh token the provider rotates is stored back into the connection's credentials, sealed,
 * by the loaders the worker uses (customer sync, gateways), with Postgres: after a restart (a fresh
 * loader) the connection goes on with the newest token, never the dead one.
 */
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { customerSyncAdapters } from '../../src/activities/customers/customer-sync-adapters.js';
import { loadConnectionClient } from '../../src/activities/connection-clients.js';
import { connections } from '../../src/db/schema.js';
import { createDeclarativeProviderFactory } from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { findIntegration, openIntegrationCredentials, storeChangedIntegrationCredentials } from '../../src/stores/erp/integration-store.js';
import { authCrmDefinition, REFRESH_AUTH, startAuthServer, type AuthServer } from '../providers/auth-server.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let server: AuthServer;
const egress = createEgressFetch({ allowPrivateNetworks: true });

beforeAll(async () => {
  stack = await startTestStack({
    providers: [createDeclarativeProviderFactory(authCrmDefinition(REFRESH_AUTH), { fetch: egress, timeoutMs: 2000 })],
    startWorker: false,
  });
});
afterAll(async () => {
  await stack?.close();
  await egress.close();
});
beforeEach(async () => {
  server = await startAuthServer();
});
afterEach(async () => server?.close());

async function storedCredentials(connectionId: string) {
  const [row] = await stack.database.db.select().from(connections).where(eq(connections.id, connectionId));
  return { version: row!.credentialsVersion, credentials: stack.cipher.open({ keyId: row!.credentialsKeyId, ciphertext: row!.credentialsCiphertext }, row!.tenantId, row!.id) };
}

async function connection(): Promise<{ tenantId: string; connectionId: string }> {
  const tenant = await stack.createTenant();
  const res = await request(stack.app)
    .post('/v1/connections')
    .set(tenant.auth)
    .send({
      provider: 'authcrm',
      code: 'crm',
      name: 'Auth CRM',
      credentials: { refreshToken: 'rt-1' },
      settings: { baseUrl: server.url, tokenUrl: `${server.url}/oauth/token` },
    })
    .expect(201);
  return { tenantId: tenant.id, connectionId: res.body.id as string };
}

describe('refresh-token rotation is persisted', () => {
  it('by the customer-sync loader, sealed, and a restarted loader uses the stored token', async () => {
    const { tenantId, connectionId } = await connection();
    const deps = { db: stack.database.db, cipher: stack.cipher, providers: stack.providers };
    const { adapter } = await customerSyncAdapters(deps)(tenantId, connectionId);
    await adapter.retrieve('c1');
    expect(await storedCredentials(connectionId)).toEqual({ version: 2, credentials: { refreshToken: 'rt-2' } });
    // The ciphertext holds no plain token.
    const [row] = await stack.database.db.select().from(connections).where(eq(connections.id, connectionId));
    expect(row!.credentialsCiphertext).not.toContain('rt-2');

    // A worker restarted (fresh loader and token cache state lost by expiry) refreshes with rt-2.
    server.expireTokens();
    const restarted = await customerSyncAdapters(deps)(tenantId, connectionId);
    await restarted.adapter.retrieve('c2');
    expect(server.refreshes.map((r) => r.refreshToken)).toEqual(['rt-1', 'rt-2']);
    expect(await storedCredentials(connectionId)).toEqual({ version: 3, credentials: { refreshToken: 'rt-3' } });
  });

  it('by the connection-client loader (connection tests and health checks)', async () => {
    const { tenantId, connectionId } = await connection();
    const { client } = await loadConnectionClient({ db: stack.database.db, cipher: stack.cipher, providers: stack.providers }, tenantId, connectionId);
    await client.verifyCredentials();
    expect(await storedCredentials(connectionId)).toEqual({ version: 2, credentials: { refreshToken: 'rt-2' } });
  });

  it('into an ERP integration, sealed, beside its other credentials', async () => {
    const tenant = await stack.createTenant();
    const res = await request(stack.app)
      .post('/v1/integrations')
      .set(tenant.auth)
      .send({
        name: 'ERP',
        type: 'polling',
        connector: {
          type: 'rest',
          baseUrl: '{{settings.baseUrl}}',
          auth: { ...REFRESH_AUTH, clientSecret: '{{credentials.clientSecret}}' },
          streams: { products: { path: '/contacts' } },
        },
        credentials: { refreshToken: 'rt-1', clientSecret: 'cs_1' },
        settings: { intervalSeconds: 3600, baseUrl: `${server.url}/api`, tokenUrl: `${server.url}/oauth/token` },
        mappings: { products: [{ sourceField: 'id', targetField: 'sku', required: true }, { sourceField: 'id', targetField: 'name', required: true }] },
      });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    await storeChangedIntegrationCredentials(stack.database.db, stack.cipher, id, { refreshToken: 'rt-2' });
    const row = await findIntegration(stack.database.db, tenant.id, id);
    expect(openIntegrationCredentials(stack.cipher, row!)).toEqual({ refreshToken: 'rt-2', clientSecret: 'cs_1' });
    expect(row!.credentialsCiphertext).not.toContain('rt-2');
  });
});
