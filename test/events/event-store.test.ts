import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres, type Database } from '../../src/db/client.js';
import { events, tenants } from '../../src/db/schema.js';
import {
  deleteEventsOlderThan,
  EVENTS_CHANNEL,
  eventBody,
  EventResourceMismatchError,
  findEvent,
  listEvents,
  recordEvent,
} from '../../src/stores/events/event-store.js';

let database: Database;
let tenantId: string;

beforeAll(async () => {
  database = connectPostgres(inject('databaseUrl'), { poolSize: 12 });
  tenantId = `ten_events_${randomUUID().slice(0, 8)}`;
  await database.db.insert(tenants).values({ id: tenantId, name: 'events' });
});
afterAll(async () => {
  await database?.db.delete(tenants).where(eq(tenants.id, tenantId));
  await database?.close();
});

const eventsOf = (resourceId: string) =>
  database.db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.resourceId, resourceId)))
    .orderBy(asc(events.position));

describe('recordEvent', () => {
  it('numbers one resource 1..N without gaps or duplicates under concurrent writers, in position order', async () => {
    const paymentId = `pay_${randomUUID().slice(0, 8)}`;
    const writers = 40;
    await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        database.db.transaction(async (tx) => {
          const row = await recordEvent(tx, { tenantId, type: 'payment.succeeded', resource: { type: 'payment', id: paymentId }, data: { writer: i } });
          // Hold the transaction open a little, as a real change would, so writers overlap.
          await tx.execute(sql`select pg_sleep(${(i % 5) / 500})`);
          return row;
        }),
      ),
    );
    const rows = await eventsOf(paymentId);
    expect(rows.map((r) => r.sequence)).toEqual(Array.from({ length: writers }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.data.writer)).size).toBe(writers);
  });

  it('a rolled-back transaction leaves no event and takes its number back', async () => {
    const customerId = `cust_${randomUUID().slice(0, 8)}`;
    const record = (tx: Parameters<Parameters<Database['db']['transaction']>[0]>[0], name: string) =>
      recordEvent(tx, { tenantId, type: 'customer.updated', resource: { type: 'customer', id: customerId }, data: { name } });
    await database.db.transaction((tx) => record(tx, 'first'));
    const failed = database.db.transaction(async (tx) => {
      await record(tx, 'rolled back');
      throw new Error('the change failed');
    });
    await expect(failed).rejects.toThrow('the change failed');
    await database.db.transaction((tx) => record(tx, 'third'));
    const rows = await eventsOf(customerId);
    expect(rows.map((r) => [r.sequence, r.data.name])).toEqual([
      [1, 'first'],
      [2, 'third'],
    ]);
  });

  it('announces a committed event on its channel', async () => {
    let notified = 0;
    const stop = await database.listen(EVENTS_CHANNEL, () => notified++);
    try {
      const before = notified;
      await database.db.transaction((tx) =>
        recordEvent(tx, { tenantId, type: 'refund.succeeded', resource: { type: 'refund', id: `re_${randomUUID().slice(0, 8)}` }, data: {} }),
      );
      const deadline = Date.now() + 5_000;
      while (notified === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(notified).toBeGreaterThan(before);
    } finally {
      await stop();
    }
  });

  it('refuses a resource type the event type does not describe, writing nothing', async () => {
    const id = `pay_${randomUUID().slice(0, 8)}`;
    const wrong = database.db.transaction((tx) =>
      // @ts-expect-error: the type system refuses it too; callers in plain JS or with casts meet the runtime check
      recordEvent(tx, { tenantId, type: 'payment.failed', resource: { type: 'refund', id }, data: {} }),
    );
    await expect(wrong).rejects.toThrow(EventResourceMismatchError);
    expect(await eventsOf(id)).toEqual([]);
  });
});

describe('reading and retention', () => {
  it('lists by position both ways with type and resource filters, and says when more follow', async () => {
    const resourceId = `cust_${randomUUID().slice(0, 8)}`;
    const types = ['customer.created', 'customer.updated', 'customer.sync_failed', 'customer.updated'] as const;
    for (const type of types) {
      await database.db.transaction((tx) => recordEvent(tx, { tenantId, type, resource: { type: 'customer', id: resourceId }, data: { type } }));
    }
    const page1 = await listEvents(database.db, tenantId, { resourceId, order: 'asc', limit: 3 });
    expect(page1.rows.map((r) => r.sequence)).toEqual([1, 2, 3]);
    expect(page1.hasMore).toBe(true);
    const page2 = await listEvents(database.db, tenantId, { resourceId, order: 'asc', limit: 3, afterPosition: page1.rows[2]!.position });
    expect(page2.rows.map((r) => r.sequence)).toEqual([4]);
    expect(page2.hasMore).toBe(false);
    const newest = await listEvents(database.db, tenantId, { resourceType: 'customer', resourceId, limit: 2 });
    expect(newest.rows.map((r) => r.sequence)).toEqual([4, 3]);
    const updates = await listEvents(database.db, tenantId, { resourceId, types: ['customer.updated'], limit: 10 });
    expect(updates.rows.map((r) => r.sequence)).toEqual([4, 2]);
    expect((await listEvents(database.db, tenantId, { resourceId, types: [], limit: 10 })).rows).toEqual([]);
    expect((await listEvents(database.db, tenantId, { resourceId, resourceType: 'payment', limit: 10 })).rows).toEqual([]);
    expect((await listEvents(database.db, 'ten_nobody', { resourceId, limit: 10 })).rows).toEqual([]);

    const one = await findEvent(database.db, tenantId, page1.rows[0]!.id);
    expect(eventBody(one!)).toEqual({
      id: one!.id,
      type: 'customer.created',
      created_at: one!.createdAt.toISOString(),
      sequence: 1,
      resource: { type: 'customer', id: resourceId },
      data: { type: 'customer.created' },
    });
    expect(eventBody(one!, 'thin')).not.toHaveProperty('data');
    expect(await findEvent(database.db, 'ten_nobody', one!.id)).toBeUndefined();
  });

  it('deletes events past the retention period; the resource keeps counting', async () => {
    const oldId = `pay_${randomUUID().slice(0, 8)}`;
    const recentId = `pay_${randomUUID().slice(0, 8)}`;
    const record = (id: string) =>
      database.db.transaction((tx) => recordEvent(tx, { tenantId, type: 'payment.captured', resource: { type: 'payment', id }, data: {} }));
    await record(oldId);
    await record(oldId);
    await record(recentId);
    await database.db.execute(sql`update events set created_at = now() - interval '31 days' where resource_id = ${oldId}`);
    await database.db.execute(sql`update events set created_at = now() - interval '29 days' where resource_id = ${recentId}`);

    const deleted = await deleteEventsOlderThan(database.db, 30, { batchSize: 1 });
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await eventsOf(oldId)).toEqual([]);
    expect((await eventsOf(recentId)).map((r) => r.sequence)).toEqual([1]);
    await record(oldId);
    expect((await eventsOf(oldId)).map((r) => r.sequence)).toEqual([3]);
    await expect(deleteEventsOlderThan(database.db, 0)).rejects.toThrow(RangeError);
  });
});
