import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { tenants } from './core.js';

/**
 * Fixed-window request counters shared by every API instance (see src/api/rate-limit.ts for why
 * Postgres and why a fixed window). One row per bucket; stale rows are swept opportunistically.
 */
export const rateLimitBuckets = pgTable('rate_limit_buckets', {
  bucket: text('bucket').primaryKey(),
  windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
  hits: integer('hits').notNull(),
});

/** Who changed what, when: one row per change, written in the transaction of the change. */
export const auditEvents = pgTable(
  'audit_events',
  {
    /** Insertion order: the pagination cursor (timestamps can tie). */
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    id: text('id').notNull().unique(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    actorType: text('actor_type', { enum: ['api_key', 'admin'] }).notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id').notNull(),
    changes: jsonb('changes').$type<AuditChanges>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('audit_events_tenant_seq_idx').on(t.tenantId, t.seq), index('audit_events_tenant_type_idx').on(t.tenantId, t.resourceType, t.seq)],
);

/** Before/after snapshots as the API presents them (never credentials) and the fields that differ. */
export interface AuditChanges {
  before?: unknown;
  after?: unknown;
  fields?: string[];
}
