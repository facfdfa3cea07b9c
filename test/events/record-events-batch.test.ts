import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { events, tenants } from '../../src/db/schema.js';
import { EVENTS_CHANNEL, EventResourceMismatchError, recordEvent, recordEvents, type NewEvent } from '../../src/stores/events/event-store.js';

let database: Database;
let tenantId: string;

beforeAll(async () => {
  database = connectPostgres(inject('databaseUrl'), { poolSize: 12 });
  tenantId = `ten_batch_${randomUUID().slice(0, 8)}`;
  await database.db.insert(tenants).values({ id: tenantId, name: 'batched events' });
});
afterAll(async () => {
  await database?.db.delete(tenants).where(eq(tenants.id, tenantId));
  await database?.close();
});

const eventsOf = (resourceIds: string[]) =>
  database.db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), inArray(events.resourceId, resourceIds)))
    .orderBy(asc(events.position));

const product = (sku: string, name: string): NewEvent<'product.updated'> => ({
  tenantId,
  type: 'product.updated',
  resource: { type: 'product', id: sku },
  data: { sku, name },
});

describe('recordEvents (one statement for many)', () => {
  it('numbers each resource on from its last event, several events of one resource consecutively, in the order given', async () => {
    const [a, b, c] = ['A', 'B', 'C'].map((s) => `${s}-${randomUUID().slice(0, 8)}`) as [string, string, string];
    await database.db.transaction((tx) => recordEvent(tx, product(a, 'a1')));
    const recorded = await database.db.transaction((tx) =>
      recordEvents(tx, [product(b, 'b1'), product(a, 'a2'), product(c, 'c1'), product(a, 'a3'), product(b, 'b2')]),
    );
    expect(recorded).toBe(5);
    const rows = await eventsOf([a, b, c]);
    // Position follows the order given; each resource's sequence follows on without a gap.
    expect(rows.map((r) => [r.resourceId, r.sequence, r.data.name])).toEqual([
      [a, 1, 'a1'],
      [b, 1, 'b1'],
      [a, 2, 'a2'],
      [c, 1, 'c1'],
      [a, 3, 'a3'],
      [b, 2, 'b2'],
    ]);
    // A single event after the batch continues each count.
    await database.db.transaction((tx) => recordEvent(tx, product(b, 'b3')));
    expect((await eventsOf([b])).map((r) => r.sequence)).toEqual([1, 2, 3]);
  });

  it('keeps each resource gapless under concurrent batches over the same resources', async () => {
    const skus = Array.from({ length: 20 }, (_, i) => `S${i}-${randomUUID().slice(0, 8)}`);
    const batches = 8;
    await Promise.all(
      Array.from({ length: batches }, (_, n) =>
        database.db.transaction(async (tx) => {
          // Each batch names the resources in another order: the counters are still taken in key order, no deadlock.
          const order = n % 2 === 0 ? skus : [...skus].reverse();
          await recordEvents(tx, order.map((s) => product(s, `batch ${n}`)));
          await tx.execute(sql`select pg_sleep(${(n % 3) / 200})`);
        }),
      ),
    );
    const rows = await eventsOf(skus);
    for (const sku of skus) {
      expect(rows.filter((r) => r.resourceId === sku).map((r) => r.sequence)).toEqual(Array.from({ length: batches }, (_, i) => i + 1));
    }
  });

  it('writes nothing and takes no numbers when its transaction rolls back; refuses a mismatched resource type', async () => {
    const sku = `R-${randomUUID().slice(0, 8)}`;
    const failed = database.db.transaction(async (tx) => {
      await recordEvents(tx, [product(sku, 'lost'), product(sku, 'lost too')]);
      throw new Error('the page failed');
    });
    await expect(failed).rejects.toThrow('the page failed');
    expect(await eventsOf([sku])).toEqual([]);
    await database.db.transaction((tx) => recordEvents(tx, [product(sku, 'kept')]));
    expect((await eventsOf([sku])).map((r) => [r.sequence, r.data.name])).toEqual([[1, 'kept']]);

    const wrong = database.db.transaction((tx) =>
      recordEvents(tx, [product(`W-${sku}`, 'x'), { tenantId, type: 'price.updated', resource: { type: 'product', id: sku }, data: {} } as unknown as NewEvent]),
    );
    await expect(wrong).rejects.toThrow(EventResourceMismatchError);
    expect(await eventsOf([`W-${sku}`])).toEqual([]);
    expect(await database.db.transaction((tx) => recordEvents(tx, []))).toBe(0);
  });

  it('announces a committed batch on the events channel', async () => {
    let notified = 0;
    const stop = await database.listen(EVENTS_CHANNEL, () => notified++);
    try {
      const before = notified;
      await database.db.transaction((tx) => recordEvents(tx, [product(`N-${randomUUID().slice(0, 8)}`, 'n')]));
      const deadline = Date.now() + 5_000;
      while (notified === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(notified).toBeGreaterThan(before);
    } finally {
      await stop();
    }
  });
});
