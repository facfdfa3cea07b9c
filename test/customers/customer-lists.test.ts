/** A connection's sync runs and a customer's conflicts are listed a page at a time, with no silent cap. */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids.js';
import { customerSyncRuns, syncConflicts } from '../../src/db/schema.js';
import { CUSTOMERS_CATALOG } from '../../src/domain/customers/sync-settings.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let fetch: EgressFetch;
beforeAll(async () => {
  fetch = createEgressFetch({ allowPrivateNetworks: true });
  const acme = createDeclarativeProviderFactory(await loadProviderDefinitionFile('providers/acmepay.yaml'), { fetch });
  stack = await startTestStack({ providers: [acme], startWorker: false });
});
afterAll(async () => {
  await stack?.close();
  await fetch?.close();
});

type Auth = { Authorization: string };

async function readAll(path: string, auth: Auth, query: Record<string, unknown>): Promise<{ items: Record<string, unknown>[]; pages: number }> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await request(stack.app)
      .get(path)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set(auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages += 1;
    items.push(...(res.body.data as Record<string, unknown>[]));
    cursor = res.body.nextCursor as string | null;
    expect(res.body.hasMore).toBe(cursor !== null);
  } while (cursor);
  return { items, pages };
}

async function connection(auth: Auth): Promise<string> {
  const res = await request(stack.app)
    .post('/v1/connections')
    .set(auth)
    .send({ provider: 'acmepay', code: `acme-${Math.random().toString(36).slice(2, 8)}`, name: 'Acme', credentials: { accountId: 'acct', apiKey: 'key' } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('customer sync runs', () => {
  it('page newest first past the old cap of 20, with no duplicate and no gap (runs started in the same instant too)', async () => {
    const t = await stack.createTenant();
    const conn = await connection(t.auth);
    const at = new Date('2026-12-07T10:00:00Z');
    const ids = Array.from({ length: 45 }, () => newId('csr'));
    await stack.database.db.insert(customerSyncRuns).values(
      ids.map((id, i) => ({ id, tenantId: t.id, connectionId: conn, trigger: 'schedule' as const, workflowId: `wf-${id}`, workflowRunId: `run-${i}`, startedAt: i < 30 ? at : new Date(at.getTime() + i * 1000) })),
    );
    const all = await readAll(`/v1/connections/${conn}/sync/runs`, t.auth, { limit: 7 });
    expect(all.pages).toBe(7);
    expect(all.items).toHaveLength(45);
    expect(new Set(all.items.map((r) => r.id))).toEqual(new Set(ids));
    const single = await request(stack.app).get(`/v1/connections/${conn}/sync/runs`).query({ limit: 100 }).set(t.auth).expect(200);
    expect(single.body.data.map((r: { id: string }) => r.id)).toEqual(all.items.map((r) => r.id));
    expect(single.body.hasMore).toBe(false);
  });
});

describe('customer conflicts', () => {
  it('page oldest first, optionally for one connection', async () => {
    const t = await stack.createTenant();
    const conn = await connection(t.auth);
    const created = await request(stack.app).post('/v1/customers').set(t.auth).set('Idempotency-Key', `k-${Date.now()}`).send({ name: 'Ada' }).expect(201);
    const customerId = created.body.id as string;
    await stack.database.db.insert(syncConflicts).values(
      Array.from({ length: 25 }, (_, i) => ({
        tenantId: t.id,
        catalog: CUSTOMERS_CATALOG,
        localId: customerId,
        connectionId: i % 5 === 0 ? 'con_other' : conn,
        field: 'phone',
        baseValue: `base-${i}`,
        localValue: `local-${i}`,
        remoteValue: `remote-${i}`,
        policy: 'most_recent',
        decision: 'local' as const,
      })),
    );
    const all = await readAll(`/v1/customers/${customerId}/sync/conflicts`, t.auth, { limit: 4 });
    expect(all.pages).toBe(7);
    expect(all.items.map((c) => c.localValue)).toEqual(Array.from({ length: 25 }, (_, i) => `local-${i}`));
    const one = await readAll(`/v1/customers/${customerId}/sync/conflicts`, t.auth, { connectionId: 'con_other', limit: 2 });
    expect(one.items.map((c) => c.localValue)).toEqual(['local-0', 'local-5', 'local-10', 'local-15', 'local-20']);
    // A forged cursor (base64url of "foo") is a 400 on query.cursor, never a 500.
    const forged = await request(stack.app).get(`/v1/customers/${customerId}/sync/conflicts`).query({ cursor: 'Zm9v' }).set(t.auth);
    expect(forged.status).toBe(400);
    expect(forged.body.error.details[0].path).toBe('query.cursor');
    const otherTenant = await stack.createTenant();
    await request(stack.app).get(`/v1/customers/${customerId}/sync/conflicts`).set(otherTenant.auth).expect(404);
  });
});
