/**
 * Reconciliation of a system without a change feed: its events phase reads `list` filtered by
 * `modifiedAfter` from the time the previous read started (less the lookback) and hands every record
 * it finds to its customer's workflow, instead of finding nothing. Activity level, with Postgres and
 * a local list server over real HTTP.
 */
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomerReconcileActivities } from '../../src/activities/customers/customer-reconcile-activities.js';
import { customerSyncAdapters } from '../../src/activities/customers/customer-sync-adapters.js';
import { syncCursors } from '../../src/db/schema.js';
import { createDeclarativeProviderFactory, type ProviderDefinitionInput } from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { MODIFIED_FORMAT, MODIFIED_ZONE, startPagingServer, type PagingServer } from '../providers/paging-server.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let server: PagingServer;
const egress = createEgressFetch({ allowPrivateNetworks: true });
let now = Date.UTC(2026, 5, 1, 9, 0, 0);

const endpoint = (path: string) => ({ method: 'GET' as const, path });
const definition = {
  name: 'nofeedcrm',
  displayName: 'CRM without a change feed',
  version: '1',
  baseUrl: '{{settings.baseUrl}}/api/23',
  credentials: [{ name: 'apiToken' }],
  auth: { type: 'bearer', token: '{{credentials.apiToken}}' },
  customerSync: {
    record: { id: 'id' },
    fields: { email: 'email' },
    endpoints: {
      create: endpoint('/contacts'),
      update: endpoint('/contacts/{{remoteId}}'),
      delete: endpoint('/contacts/{{remoteId}}'),
      retrieve: endpoint('/contacts/{{remoteId}}'),
      list: {
        method: 'GET',
        path: '/page',
        items: 'items',
        pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page' },
        modifiedAfter: { param: 'modified_after', format: MODIFIED_FORMAT, zone: MODIFIED_ZONE },
      },
    },
    events: { eventId: 'id', type: 'type', kinds: { updated: 'updated' }, remoteId: 'id', occurredAt: 'at' },
  },
} as unknown as ProviderDefinitionInput;

beforeAll(async () => {
  server = await startPagingServer();
  stack = await startTestStack({
    providers: [createDeclarativeProviderFactory(definition, { fetch: egress, timeoutMs: 2000, now: () => now })],
    startWorker: false,
  });
});
afterAll(async () => {
  await stack?.close();
  await egress.close();
  await server?.close();
});

describe('reconciliation of a system without a change feed', () => {
  it('reads the records modified since its last read and hands each to its customer', async () => {
    const tenant = await stack.createTenant();
    const conn = await request(stack.app).post('/v1/connections').set(tenant.auth).send({ provider: 'nofeedcrm', code: 'crm', name: 'CRM', credentials: { apiToken: 'tok_1' }, settings: { baseUrl: server.url } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const connectionId = conn.body.id as string;
    const signalled: string[] = [];
    const deps = {
      db: stack.database.db,
      cipher: stack.cipher,
      providers: stack.providers,
      customerSignals: async (_target: unknown, change: { remote?: { remoteId: string } }) => {
        if (change.remote) signalled.push(change.remote.remoteId);
        return Promise.resolve();
      },
    };
    const activities = createCustomerReconcileActivities(deps as never, customerSyncAdapters(deps));
    const input = { tenantId: tenant.id, connectionId };

    // The first read starts the clock (the full scan covers the past): nothing asked, nothing found.
    const before = server.requests.length;
    expect(await activities.catchUpMissedCustomerChanges(input)).toEqual({ changes: 0, remoteIds: [] });
    expect(server.requests.length).toBe(before);

    server.touch('c05', now + 60_000);
    server.touch('c17', now + 120_000);
    now += 3_600_000;
    const found = await activities.catchUpMissedCustomerChanges(input);
    expect(found).toEqual({ changes: 2, remoteIds: ['c05', 'c17'] });
    expect(signalled).toEqual(['c05', 'c17']);
    const asked = new URL(server.url + server.requests.at(-1)!).searchParams.get('modified_after');
    expect(asked).toBe('01.06.2026 11:59:00'); // 09:00 UTC less the default 60 s lookback, Istanbul time

    // The stored cursor moved: the next run asks from when this one started.
    const [cursor] = await stack.database.db.select().from(syncCursors).where(eq(syncCursors.connectionId, connectionId));
    expect(JSON.parse(cursor!.cursor!)).toMatchObject({ since: now });
    now += 3_600_000;
    expect(await activities.catchUpMissedCustomerChanges(input)).toEqual({ changes: 0, remoteIds: [] });
  });
});
