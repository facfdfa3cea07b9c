import { Readable } from 'node:stream';
import postgres from 'postgres';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readUpload, storeUpload } from '../../src/stores/erp/upload-store.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { listCatalog, prepareUpsert, upsertRecords, writeUpsert } from '../../src/stores/erp/catalog-store.js';
import { catalogOrders, catalogProducts, erpIntegrations, events, tenants } from '../../src/db/schema.js';
import type { EntityRecords, ErpEntity } from '../../src/domain/erp/entities.js';

const NAME = 'switchyard_erp_upsert_check';
const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
let database: Database;

beforeAll(async () => {
  const a = admin();
  await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
  await a.unsafe(`CREATE DATABASE ${NAME}`);
  await a.end();
  database = connectPostgres(inject('adminDatabaseUrl').replace(/\/[^/]*$/, `/${NAME}`), { poolSize: 2 });
  await database.migrate();
  await database.db.insert(tenants).values({ id: 'ten_u', name: 'Upsert' });
});
afterAll(async () => {
  await database?.close();
  const a = admin();
  await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
  await a.end();
});

/** Upserts in a transaction of its own, as a page's transaction would. */
const upsert = <E extends ErpEntity>(entity: E, integrationId: string | null, records: EntityRecords[E][]) =>
  database.db.transaction((tx) => upsertRecords(tx, entity, 'ten_u', integrationId, records));

const eventsOf = (type: string) => database.db.select().from(events).where(eq(events.type, type)).orderBy(asc(events.position));

describe('the catalog upsert (unnest arrays)', () => {
  it('carries every character, NULL and the text "NULL" intact, and writes only what changed', async () => {
    const { db } = database;
    const tricky = [
      { sku: 'Q-1', name: 'say "hi", {braces}', description: 'back\\slash \\" and ,comma', active: true },
      { sku: 'Q-2', name: 'NULL', description: null, active: false },
      { sku: 'Q-3', name: 'Çay bardağı İĞÜŞÖ 😀', description: '', active: true },
      { sku: 'Q-4', name: ' spaces kept ', description: 'line\nbreak\ttab', active: true },
    ];
    expect(await upsert('products', 'int_x', tricky)).toEqual({ upserted: 4, unchanged: 0 });
    const stored = await db.select().from(catalogProducts).orderBy(catalogProducts.sku);
    expect(stored.map(({ sku, name, description, active, integrationId }) => ({ sku, name, description, active, integrationId }))).toEqual(
      tricky.map((r) => ({ ...r, integrationId: 'int_x' })),
    );
    // The same rows again: nothing written; one changed row: one written, and only its updated_at moves.
    expect(await upsert('products', 'int_x', tricky)).toEqual({ upserted: 0, unchanged: 4 });
    const changed = tricky.map((r) => (r.sku === 'Q-2' ? { ...r, description: 'now set' } : r));
    expect(await upsert('products', 'int_x', changed)).toEqual({ upserted: 1, unchanged: 3 });
    const after = await db.select().from(catalogProducts).orderBy(catalogProducts.sku);
    expect(after.filter((r, i) => r.updatedAt.getTime() !== stored[i]!.updatedAt.getTime()).map((r) => r.sku)).toEqual(['Q-2']);
    // One product.updated per row written, none for the unchanged rows: each carries the row as the
    // catalog lists it, numbered per product (Q-2's change is its second event).
    const productEvents = await eventsOf('product.updated');
    expect(productEvents.map((e) => [e.resourceType, e.resourceId, e.sequence])).toEqual([
      ['product', 'Q-1', 1],
      ['product', 'Q-2', 1],
      ['product', 'Q-3', 1],
      ['product', 'Q-4', 1],
      ['product', 'Q-2', 2],
    ]);
    const listed = (await listCatalog(db, 'products', 'ten_u', 10, undefined)).data;
    expect(productEvents.at(-1)!.data).toEqual(listed.find((p) => p.sku === 'Q-2'));
    expect(productEvents.slice(0, 4).map((e) => e.data)).toEqual(
      stored.map((r) => ({ sku: r.sku, name: r.name, description: r.description, active: r.active, integrationId: 'int_x', sourceChangedAt: null, updatedAt: r.updatedAt.toISOString() })),
    );

    // jsonb and timestamptz columns travel the same way.
    const order = { number: 'O-1', status: 'open', currency: 'TRY', totalMinor: 12345, lines: [{ sku: 'A "1"', quantity: 2, unitPriceMinor: 100 }], orderedAt: '2026-11-22T11:05:00Z' };
    expect(await upsert('orders', null, [order, { ...order, orderedAt: null, number: 'O-2' }])).toEqual({ upserted: 2, unchanged: 0 });
    const orders = await db.select().from(catalogOrders).orderBy(catalogOrders.number);
    expect(orders.map((o) => [o.lines, o.orderedAt?.toISOString() ?? null])).toEqual([
      [order.lines, '2026-11-22T11:05:00.000Z'],
      [order.lines, null],
    ]);
    // Orders announce their arrival only: a changed order writes its row and records no event.
    expect(await upsert('orders', null, [{ ...order, status: 'shipped' }])).toEqual({ upserted: 1, unchanged: 0 });
    expect((await eventsOf('order.created')).map((e) => [e.resourceId, e.sequence, e.data.status, e.data.orderedAt])).toEqual([
      ['O-1', 1, 'open', '2026-11-22T11:05:00.000Z'],
      ['O-2', 1, 'open', null],
    ]);
  });

  it("keeps the source's change time of the version written: a newer time alone does not rewrite a row", async () => {
    const write = (records: EntityRecords['prices'][], changedAt: (string | undefined)[]) =>
      database.db.transaction((tx) => writeUpsert(tx, prepareUpsert('prices', records, changedAt), 'ten_u', 'int_x'));
    const price = { sku: 'T-1', priceList: 'retail', currency: 'TRY', amountMinor: 100 };
    // Two versions of one key in a page: the last one wins, with its own time.
    expect(await write([{ ...price, amountMinor: 90 }, price, { ...price, sku: 'T-2' }], ['2026-01-13T07:00:01Z', '2026-01-13T07:00:02Z', undefined])).toEqual({ upserted: 2, unchanged: 1 });
    const times = async () => (await listCatalog(database.db, 'prices', 'ten_u', 10, undefined)).data.filter((r) => String(r.sku).startsWith('T-')).map((r) => [r.sku, r.amountMinor, r.sourceChangedAt]);
    expect(await times()).toEqual([
      ['T-1', 100, '2026-01-13T07:00:02.000Z'],
      ['T-2', 100, null],
    ]);
    expect(await write([price], ['2026-01-13T08:00:00Z'])).toEqual({ upserted: 0, unchanged: 1 });
    expect(await write([{ ...price, amountMinor: 120 }], ['2026-01-13T09:00:00Z'])).toEqual({ upserted: 1, unchanged: 0 });
    expect((await times())[0]).toEqual(['T-1', 120, '2026-01-13T09:00:00.000Z']);
  });

  it('records nothing of a page whose transaction rolls back', async () => {
    const { db } = database;
    const before = (await db.select().from(events)).length;
    const rolledBack = db.transaction(async (tx) => {
      expect(await upsertRecords(tx, 'inventory', 'ten_u', 'int_x', [{ sku: 'R-1', warehouse: 'W', quantity: 5 }])).toEqual({ upserted: 1, unchanged: 0 });
      throw new Error('the checkpoint could not be stored');
    });
    await expect(rolledBack).rejects.toThrow('the checkpoint could not be stored');
    expect((await db.select().from(events)).length).toBe(before);
    // Written again for real, the row and its event are the first of their resource.
    await upsert('inventory', 'int_x', [{ sku: 'R-1', warehouse: 'W', quantity: 5 }]);
    expect((await eventsOf('inventory.changed')).map((e) => [e.resourceId, e.sequence, e.data.quantity])).toEqual([['R-1|W', 1, 5]]);
  });
});

describe('an upload read from a byte offset', () => {
  it('starts exactly there, across the 1 MB chunk borders', async () => {
    const { db } = database;
    await db.insert(erpIntegrations).values({ id: 'int_u', tenantId: 'ten_u', name: 'U', type: 'polling', connector: {}, mappings: {} });
    const file = Buffer.from(Array.from({ length: 2.5 * 2 ** 20 }, (_, i) => (i * 7919) % 251));
    const stored = await storeUpload(db, { tenantId: 'ten_u', integrationId: 'int_u', entity: 'products', contentType: 'text/csv' }, Readable.from([file]), 10 * 2 ** 20);
    for (const from of [0, 5, 2 ** 20 - 1, 2 ** 20, 2 ** 20 + 7, 2 * 2 ** 20 + 3, file.length - 1, file.length]) {
      const parts: Buffer[] = [];
      for await (const chunk of readUpload(db, 'int_u', stored.id, from)) parts.push(chunk);
      expect(Buffer.concat(parts).equals(file.subarray(from)), `from byte ${from}`).toBe(true);
    }
  });
});
