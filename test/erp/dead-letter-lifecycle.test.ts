/**
 * Dead letters and runs are listed a page at a time with no silent cap, a dead letter can be
 * dismissed (audited, idempotent), and one whose record later synced valid closes itself as resolved.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/db/ids.js';
import { erpDeadLetters } from '../../src/db/tables/erp.js';
import { createIntegration, startSync, waitForRun } from './erp-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

type Auth = { Authorization: string };

const integrationBody = {
  name: 'Uploaded CSV',
  type: 'polling',
  connector: { type: 'csv', streams: { products: { upload: true } } },
  settings: { intervalSeconds: 3600 },
  mappings: {
    products: [
      { sourceField: 'sku', targetField: 'sku', required: true },
      { sourceField: 'name', targetField: 'name', required: true },
    ],
  },
};

async function syncFile(auth: Auth, id: string, csv: string): Promise<string> {
  await request(stack.app).put(`/v1/integrations/${id}/files/products`).set(auth).set('Content-Type', 'text/csv').send(Buffer.from(csv)).expect(201);
  const runId = await startSync(stack, auth, id, 'products', 'full');
  const run = await waitForRun(stack, auth, id, runId);
  expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
  return runId;
}

/** Every item of a list, following nextCursor with `limit`, and the number of pages it took. */
async function readAll(path: string, auth: Auth, query: Record<string, unknown>): Promise<{ items: { id: string }[]; pages: number }> {
  const items: { id: string }[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await request(stack.app)
      .get(path)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set(auth);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages += 1;
    items.push(...(res.body.data as { id: string }[]));
    expect(res.body.hasMore).toBe(res.body.nextCursor !== null);
    cursor = res.body.nextCursor as string | null;
  } while (cursor);
  return { items, pages };
}

describe('dead letters', () => {
  it('pages across boundaries with no duplicate and no gap, also for letters written in the same instant', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, integrationBody);
    // 7 letters from one page's transaction (one now() for them all), and 600: more than the old cap of 500.
    const csv = ['sku,name', ...Array.from({ length: 7 }, (_, i) => `S-${i},`)].join('\n');
    await syncFile(t.auth, id, csv);
    const small = await readAll(`/v1/integrations/${id}/dead-letters`, t.auth, { limit: 3 });
    expect(small.pages).toBe(3);
    expect(small.items.map((d) => (d as unknown as { recordKey: string }).recordKey).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `S-${i}`).sort());

    const runId = newId('erun');
    const at = new Date();
    await stack.database.db.insert(erpDeadLetters).values(
      Array.from({ length: 600 }, (_, i) => ({ id: newId('dl'), tenantId: t.id, integrationId: id, runId, entity: 'products', raw: { i }, errors: [], createdAt: at })),
    );
    const all = await readAll(`/v1/integrations/${id}/dead-letters`, t.auth, {});
    expect(all.pages).toBe(7);
    expect(all.items).toHaveLength(607);
    expect(new Set(all.items.map((d) => d.id)).size).toBe(607);
    const paged = await readAll(`/v1/integrations/${id}/dead-letters`, t.auth, { limit: 500 });
    expect(paged.items.map((d) => d.id)).toEqual(all.items.map((d) => d.id));
  }, 60_000);

  it('refuses a bad limit and a cursor from another list', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, integrationBody);
    const other = await createIntegration(stack, t.auth, integrationBody);
    await syncFile(t.auth, id, 'sku,name\nA,\nB,\n');
    const first = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ limit: 1 }).set(t.auth).expect(200);
    expect(first.body.hasMore).toBe(true);
    const foreign = await request(stack.app).get(`/v1/integrations/${other}/dead-letters`).query({ cursor: first.body.nextCursor }).set(t.auth);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details[0].path).toBe('query.cursor');
    // The cursor's letter leaves the open list (dismissed) between two pages: the next page still follows it.
    await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${first.body.data[0].id}/dismiss`).set(t.auth).send({}).expect(200);
    const next = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ limit: 1, cursor: first.body.nextCursor }).set(t.auth).expect(200);
    expect(next.body.data.map((d: { recordKey: string }) => d.recordKey)).toEqual([first.body.data[0].recordKey === 'A' ? 'B' : 'A']);
    expect(next.body.hasMore).toBe(false);
    const tooMany = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ limit: 501 }).set(t.auth);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].path).toBe('query.limit');
  }, 60_000);

  it('dismisses a dead letter: audited, idempotent, listed as dismissed and no longer open', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, integrationBody);
    await syncFile(t.auth, id, 'sku,name\nA,\nB,\n');
    const open = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(open.body.data).toHaveLength(2);
    const dl = open.body.data[0];
    const dismissed = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${dl.id}/dismiss`).set(t.auth).send({ reason: 'fixed by hand' });
    expect(dismissed.status, JSON.stringify(dismissed.body)).toBe(200);
    expect(dismissed.body).toMatchObject({ id: dl.id, status: 'dismissed', dismissReason: 'fixed by hand' });
    expect(dismissed.body.closedAt).toEqual(expect.any(String));
    const again = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${dl.id}/dismiss`).set(t.auth).send({}).expect(200);
    expect(again.body).toEqual(dismissed.body);

    const stillOpen = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(stillOpen.body.data.map((d: { id: string }) => d.id)).toEqual([open.body.data[1].id]);
    const listed = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ status: 'dismissed' }).set(t.auth).expect(200);
    expect(listed.body.data.map((d: { id: string }) => d.id)).toEqual([dl.id]);

    const audit = await request(stack.app).get('/v1/audit-events').set(t.auth).expect(200);
    const entries = audit.body.data.filter((e: { action: string }) => e.action === 'dead_letter.dismissed');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ resourceType: 'dead_letter', resourceId: dl.id });
    expect(JSON.stringify(entries[0])).not.toContain('"raw"');

    const missing = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/dl_missing/dismiss`).set(t.auth).send({});
    expect(missing.status).toBe(404);
    const otherTenant = await stack.createTenant();
    const foreign = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${dl.id}/dismiss`).set(otherTenant.auth).send({});
    expect(foreign.status).toBe(404);
  }, 60_000);

  it('closes itself as resolved when a later run applies a valid record of the same key', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, integrationBody);
    // B has no name (key known), the third row has no sku (no key: it can only be dismissed or replayed).
    await syncFile(t.auth, id, 'sku,name\nA,Apple\nB,\n,Nameless\nC,\n');
    const before = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(before.body.data.map((d: { recordKey: string | null }) => d.recordKey).sort()).toEqual(['B', 'C', null].sort());
    const toDismiss = before.body.data.find((d: { recordKey: string | null }) => d.recordKey === 'C');
    await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${toDismiss.id}/dismiss`).set(t.auth).send({}).expect(200);

    const fixRun = await syncFile(t.auth, id, 'sku,name\nB,Banana\nC,Cherry\n');
    const resolved = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ status: 'resolved' }).set(t.auth).expect(200);
    expect(resolved.body.data).toHaveLength(1);
    expect(resolved.body.data[0]).toMatchObject({ recordKey: 'B', status: 'resolved', resolvedByRunId: fixRun });
    expect(resolved.body.data[0].closedAt).toEqual(expect.any(String));
    // A dismissed letter stays dismissed; the keyless one stays open.
    const dismissed = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).query({ status: 'dismissed' }).set(t.auth).expect(200);
    expect(dismissed.body.data.map((d: { id: string }) => d.id)).toEqual([toDismiss.id]);
    const open = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(open.body.data.map((d: { recordKey: string | null }) => d.recordKey)).toEqual([null]);
    // Both closings are announced, each with the letter as the list shows it.
    const events = await request(stack.app).get('/v1/events').query({ type: 'erp.dead_letter.closed', order: 'asc' }).set(t.auth).expect(200);
    expect(events.body.data.map((e: { resource: { id: string }; data: { status: string } }) => [e.resource.id, e.data.status])).toEqual([
      [toDismiss.id, 'dismissed'],
      [resolved.body.data[0].id, 'resolved'],
    ]);
    // A resolved letter cannot be dismissed.
    const refused = await request(stack.app).post(`/v1/integrations/${id}/dead-letters/${resolved.body.data[0].id}/dismiss`).set(t.auth).send({});
    expect(refused.status).toBe(409);
  }, 60_000);
});

describe('runs', () => {
  it('ERP runs page newest first with no duplicate and no gap', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, integrationBody);
    const runIds: string[] = [];
    for (let i = 0; i < 5; i++) runIds.push(await syncFile(t.auth, id, `sku,name\nR${i},Run ${i}\n`));
    const { items, pages } = await readAll(`/v1/integrations/${id}/runs`, t.auth, { limit: 2 });
    expect(pages).toBe(3);
    expect(items.map((r) => r.id)).toEqual([...runIds].reverse());
  }, 90_000);
});
