import { Readable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readUpload, storeUpload } from '../../src/stores/erp/upload-store.js';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { upsertRecords } from '../../src/stores/erp/catalog-store.js';
import { catalogOrders, catalogProducts, erpIntegrations, tenants } from '../../src/db/schema.js';

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

describe('the catalog upsert (unnest arrays)', () => {
  it('carries every character, NULL and the text "NULL" intact, and writes only what changed', async () => {
    const { db } = database;
    const tricky = [
      { sku: 'Q-1', name: 'say "hi", {braces}', description: 'back\\slash \\" and ,comma', active: true },
      { sku: 'Q-2', name: 'NULL', description: null, active: false },
      { sku: 'Q-3', name: 'Çay bardağı İĞÜŞÖ 😀', description: '', active: true },
      { sku: 'Q-4', name: ' spaces kept ', description: 'line\nbreak\ttab', active: true },
    ];
    expect(await upsertRecords(db, 'products', 'ten_u', 'int_x', tricky)).toEqual({ upserted: 4, unchanged: 0 });
    const stored = await db.select().from(catalogProducts).orderBy(catalogProducts.sku);
    expect(stored.map(({ sku, name, description, active, integrationId }) => ({ sku, name, description, active, integrationId }))).toEqual(
      tricky.map((r) => ({ ...r, integrationId: 'int_x' })),
    );
    // The same rows again: nothing written; one changed row: one written, and only its updated_at moves.
    expect(await upsertRecords(db, 'products', 'ten_u', 'int_x', tricky)).toEqual({ upserted: 0, unchanged: 4 });
    const changed = tricky.map((r) => (r.sku === 'Q-2' ? { ...r, description: 'now set' } : r));
    expect(await upsertRecords(db, 'products', 'ten_u', 'int_x', changed)).toEqual({ upserted: 1, unchanged: 3 });
    const after = await db.select().from(catalogProducts).orderBy(catalogProducts.sku);
    expect(after.filter((r, i) => r.updatedAt.getTime() !== stored[i]!.updatedAt.getTime()).map((r) => r.sku)).toEqual(['Q-2']);

    // jsonb and timestamptz columns travel the same way.
    const order = { number: 'O-1', status: 'open', currency: 'TRY', totalMinor: 12345, lines: [{ sku: 'A "1"', quantity: 2, unitPriceMinor: 100 }], orderedAt: '2026-11-22T11:05:00Z' };
    expect(await upsertRecords(db, 'orders', 'ten_u', null, [order, { ...order, orderedAt: null, number: 'O-2' }])).toEqual({ upserted: 2, unchanged: 0 });
    const orders = await db.select().from(catalogOrders).orderBy(catalogOrders.number);
    expect(orders.map((o) => [o.lines, o.orderedAt?.toISOString() ?? null])).toEqual([
      [order.lines, '2026-11-22T11:05:00.000Z'],
      [order.lines, null],
    ]);
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
