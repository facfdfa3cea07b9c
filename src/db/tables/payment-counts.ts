import { bigint, pgTable, primaryKey, smallint, text } from 'drizzle-orm/pg-core';

/**
 * Payments per status and connection, kept by a trigger on `payments` (migration 0007) so the
 * `switchyard_payments` gauge reads a few hundred rows instead of counting the payments table on every
 * scrape. Each payment counts in one of 8 shards (`hashtext(id) & 7`), so concurrent payments of one
 * connection moving to the same status update different rows instead of queueing on one row lock.
 * `connection_id` is '' before routing. Sum over shards; the provider is joined at read time.
 */
export const paymentStatusCounts = pgTable(
  'payment_status_counts',
  {
    status: text('status').notNull(),
    connectionId: text('connection_id').notNull().default(''),
    shard: smallint('shard').notNull(),
    n: bigint('n', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.status, t.connectionId, t.shard] })],
);
