import { sql } from 'drizzle-orm';
import { bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { CustomerFields } from '../../domain/customers/fields.js';
import { createdAt, updatedAt } from './columns.js';
import { connections, tenants } from './core.js';

/** The tenant's customer catalog. `version` grows on every change; a delete is a tombstone (`deleted_at`). */
export const customers = pgTable(
  'customers',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    email: text('email'),
    name: text('name'),
    phone: text('phone'),
    address: jsonb('address').$type<CustomerFields['address']>(),
    description: text('description'),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    version: integer('version').notNull().default(1),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('customers_tenant_updated_idx').on(t.tenantId, t.updatedAt, t.id),
    index('customers_tenant_email_idx').on(t.tenantId, t.email),
  ],
);

/** Transactional outbox: one row per local change, written in the change's transaction, relayed to the entity workflow. */
export const customerOutbox = pgTable(
  'customer_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    customerId: text('customer_id').notNull(),
    version: integer('version').notNull(),
    createdAt: createdAt(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [index('customer_outbox_undelivered_idx').on(t.id).where(sql`delivered_at is null`)],
);

/** A write to a remote system that was decided but not yet confirmed; retries replay it byte for byte. */
export interface PendingPush {
  version: number;
  snapshot: CustomerFields;
  deleted: boolean;
}

/**
 * Links a local record of a catalog to its twin in a remote system, per connection, with the last
 * state both sides agreed on (the base of the three-way merge).
 */
export const syncMappings = pgTable(
  'sync_mappings',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    catalog: text('catalog').notNull(),
    localId: text('local_id').notNull(),
    remoteSystem: text('remote_system').notNull(),
    connectionId: text('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    remoteId: text('remote_id'),
    lastSyncedVersion: integer('last_synced_version').notNull().default(0),
    lastSyncedSnapshot: jsonb('last_synced_snapshot').$type<CustomerFields | null>(),
    lastSyncedAt: timestamp('last_synced_at', { withTimezone: true }),
    /** The remote twin is deleted (we deleted it, or a deletion came in). */
    remoteDeleted: boolean('remote_deleted').notNull().default(false),
    pending: jsonb('pending').$type<PendingPush | null>(),
    state: text('state', { enum: ['pending', 'in_sync', 'failed'] })
      .notNull()
      .default('pending'),
    failureReason: text('failure_reason'),
    /** The reconciliation run whose remote scan last listed the remote twin (mark and sweep of remote deletes). */
    remoteSeenRun: text('remote_seen_run'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('sync_mappings_connection_remote_uq').on(t.connectionId, t.remoteId),
    uniqueIndex('sync_mappings_connection_catalog_local_uq').on(t.connectionId, t.catalog, t.localId),
    index('sync_mappings_local_idx').on(t.tenantId, t.catalog, t.localId),
    // The delete sweep walks one connection's mappings in id order.
    index('sync_mappings_connection_id_idx').on(t.connectionId, t.id),
  ],
);

/** Every field changed on both sides between two syncs, with both values and what was decided. */
export const syncConflicts = pgTable(
  'sync_conflicts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    catalog: text('catalog').notNull(),
    localId: text('local_id').notNull(),
    connectionId: text('connection_id').notNull(),
    field: text('field').notNull(),
    baseValue: jsonb('base_value'),
    localValue: jsonb('local_value'),
    remoteValue: jsonb('remote_value'),
    policy: text('policy').notNull(),
    decision: text('decision', { enum: ['local', 'remote'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('sync_conflicts_local_idx').on(t.tenantId, t.catalog, t.localId)],
);

/** Where reconciliation stopped reading a connection's change feed (Stripe: the newest event id seen). */
export const syncCursors = pgTable('sync_cursors', {
  connectionId: text('connection_id')
    .primaryKey()
    .references(() => connections.id, { onDelete: 'cascade' }),
  tenantId: text('tenant_id').notNull(),
  cursor: text('cursor'),
  updatedAt: updatedAt(),
});

/** What one reconciliation or backfill run of a connection found and did; updated after every page. */
export const customerSyncRuns = pgTable(
  'customer_sync_runs',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    connectionId: text('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    /** connect: backfill when sync was turned on; manual: POST /v1/connections/:id/sync; schedule. */
    trigger: text('trigger', { enum: ['connect', 'manual', 'schedule'] }).notNull(),
    workflowId: text('workflow_id').notNull(),
    workflowRunId: text('workflow_run_id').notNull(),
    status: text('status', { enum: ['running', 'completed', 'failed'] })
      .notNull()
      .default('running'),
    phase: text('phase', { enum: ['events', 'remote', 'sweep', 'local', 'done'] })
      .notNull()
      .default('events'),
    missedChanges: integer('missed_changes').notNull().default(0),
    scanned: integer('scanned').notNull().default(0),
    imported: integer('imported').notNull().default(0),
    linked: integer('linked').notNull().default(0),
    pushed: integer('pushed').notNull().default(0),
    repaired: integer('repaired').notNull().default(0),
    error: text('error'),
    /** The remote scan read the whole catalog without failing: its unseen mappings may be swept. */
    remoteScanCompletedAt: timestamp('remote_scan_completed_at', { withTimezone: true }),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: updatedAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('customer_sync_runs_workflow_run_uq').on(t.workflowId, t.workflowRunId),
    index('customer_sync_runs_connection_idx').on(t.connectionId, t.startedAt),
  ],
);

/** The token bucket of a connection's calls to its remote system, shared by every worker process (see throttle.ts). */
export const connectionThrottles = pgTable('connection_throttles', {
  connectionId: text('connection_id')
    .primaryKey()
    .references(() => connections.id, { onDelete: 'cascade' }),
  /** Tokens left when last taken; negative: calls already promised a later slot. */
  tokens: doublePrecision('tokens').notNull(),
  refilledAt: timestamp('refilled_at', { withTimezone: true }).notNull(),
});
