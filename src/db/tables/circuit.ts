import { bigint, bigserial, boolean, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { connections } from './core.js';

/**
 * The circuit breaker's call outcomes, one row per call, appended without locking anything: 200
 * concurrent payments on one connection insert 200 rows instead of taking turns rewriting one hot
 * row. The window is aggregated on read; rows older than the window are deleted by the periodic
 * health check and when a circuit closes. The state itself (closed/open/half_open) stays in
 * connection_health.circuit and is written only when it changes.
 */
export const connectionOutcomes = pgTable(
  'connection_outcomes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    connectionId: text('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    /** Epoch milliseconds of the call's end (the breaker's clock, injectable in tests). */
    at: bigint('at', { mode: 'number' }).notNull(),
    ok: boolean('ok').notNull(),
    /** The call this outcome records (payment, attempt, send), where a re-run must not count it twice. */
    callKey: text('call_key'),
  },
  (t) => [
    index('connection_outcomes_connection_at_idx').on(t.connectionId, t.at),
    uniqueIndex('connection_outcomes_call_key_idx').on(t.connectionId, t.callKey),
  ],
);
