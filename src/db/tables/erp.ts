/**
 * ERP/POS sync: integrations, their runs, dead letters and webhook inbox, and the catalog they feed.
 * Catalog tables are keyed by the records' natural keys per tenant, so an upsert is idempotent.
 */
import {
  bigint,
  index,
  integer,
  jsonb,
  boolean,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { sealedCredentials } from './columns.js';
import { tenants } from './core.js';

const ts = (name: string) => timestamp(name, { withTimezone: true });
const tenantRef = () =>
  text('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' });

/** Where an incremental sync of one entity stands: the newest change seen and its tie-break key. */
export interface ErpWatermark {
  watermark: string;
  key: string;
}

/** An ERP integration of a tenant. Credentials are sealed with CredentialCipher, bound to tenant + integration. */
export const erpIntegrations = pgTable(
  'erp_integrations',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    name: text('name').notNull(),
    type: text('type', { enum: ['polling', 'webhook', 'hybrid'] }).notNull(),
    connector: jsonb('connector').$type<Record<string, unknown>>().notNull(),
    /** Stored as base64 text; null when the connector needs none. */
    credentialsCiphertext: sealedCredentials('credentials_ciphertext', {
      storage: 'base64',
      resourceType: 'integration',
      keyIdColumn: 'credentials_key_id',
      boundTo: (id) => `erp:${id}`,
    }),
    credentialsKeyId: text('credentials_key_id'),
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    mappings: jsonb('mappings').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: ['active', 'paused'] }).notNull().default('active'),
    pausedReason: text('paused_reason'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    circuit: jsonb('circuit').$type<Record<string, unknown>>(),
    /** Per entity: the committed incremental watermark. */
    watermarks: jsonb('watermarks').$type<Record<string, ErpWatermark>>().notNull().default({}),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('erp_integrations_tenant_idx').on(t.tenantId)],
);

/** Position of a run inside the source, stored with each committed page. */
export interface ErpCheckpoint {
  /** Opaque position of the next page (cursor, page number, offset or URL); null when done. */
  next: string | null;
  pages: number;
  /** Highest (updatedAt, key) committed in this run. */
  watermark?: ErpWatermark;
  done: boolean;
}

export interface ErpRunCounts {
  read: number;
  valid: number;
  invalid: number;
  upserted: number;
  unchanged: number;
  /** Skipped by the stream's `filter` (present when the stream has a filter). */
  filtered?: number;
}

export const erpRuns = pgTable(
  'erp_runs',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    integrationId: text('integration_id')
      .notNull()
      .references(() => erpIntegrations.id, { onDelete: 'cascade' }),
    entity: text('entity').notNull(),
    mode: text('mode', { enum: ['full', 'incremental'] }).notNull(),
    trigger: text('trigger', { enum: ['api', 'schedule', 'webhook', 'replay'] }).notNull(),
    workflowId: text('workflow_id').notNull(),
    status: text('status', { enum: ['running', 'succeeded', 'failed'] }).notNull().default('running'),
    counts: jsonb('counts').$type<ErpRunCounts>().notNull(),
    checkpoint: jsonb('checkpoint').$type<ErpCheckpoint>().notNull(),
    /** The watermark the run started from (incremental); null for a full run. */
    since: jsonb('since').$type<ErpWatermark>(),
    errors: jsonb('errors').$type<{ at: string; message: string }[]>().notNull().default([]),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('erp_runs_workflow_uq').on(t.workflowId),
    index('erp_runs_integration_idx').on(t.integrationId, t.startedAt),
  ],
);

export const erpDeadLetters = pgTable(
  'erp_dead_letters',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    integrationId: text('integration_id')
      .notNull()
      .references(() => erpIntegrations.id, { onDelete: 'cascade' }),
    runId: text('run_id').notNull(),
    entity: text('entity').notNull(),
    raw: jsonb('raw').notNull(),
    errors: jsonb('errors').$type<{ field: string; message: string }[]>().notNull(),
    /**
     * open; replayed (mapped again and upserted); dismissed by the tenant; resolved: a later run
     * applied a valid record with the same natural key.
     */
    status: text('status', { enum: ['open', 'replayed', 'dismissed', 'resolved'] }).notNull().default('open'),
    /** The natural key of the record, when the row mapped its key fields (what closes it when the key syncs later). */
    recordKey: text('record_key'),
    createdAt: ts('created_at').notNull().defaultNow(),
    replayedAt: ts('replayed_at'),
    /** When it was dismissed or resolved. */
    closedAt: ts('closed_at'),
    dismissReason: text('dismiss_reason'),
    resolvedByRunId: text('resolved_by_run_id'),
  },
  (t) => [
    index('erp_dead_letters_integration_idx').on(t.integrationId, t.status, t.createdAt),
    index('erp_dead_letters_open_key_idx')
      .on(t.integrationId, t.entity, t.recordKey)
      .where(sql`${t.status} = 'open' and ${t.recordKey} is not null`),
  ],
);

/** Inbox of ERP webhooks: stored once per (integration, event id). */
export const erpWebhookEvents = pgTable(
  'erp_webhook_events',
  {
    id: text('id').primaryKey(),
    tenantId: tenantRef(),
    integrationId: text('integration_id')
      .notNull()
      .references(() => erpIntegrations.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    entity: text('entity').notNull(),
    payload: jsonb('payload').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
    processedAt: ts('processed_at'),
  },
  (t) => [uniqueIndex('erp_webhook_events_event_uq').on(t.integrationId, t.eventId)],
);

export const catalogProducts = pgTable(
  'catalog_products',
  {
    tenantId: tenantRef(),
    sku: text('sku').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    active: boolean('active').notNull(),
    integrationId: text('integration_id'),
    /** The source's own change time of the version written (its incremental cursorField); null when the writer did not know it. */
    sourceChangedAt: ts('source_changed_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.sku] })],
);

export const catalogPrices = pgTable(
  'catalog_prices',
  {
    tenantId: tenantRef(),
    sku: text('sku').notNull(),
    priceList: text('price_list').notNull(),
    currency: text('currency').notNull(),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    integrationId: text('integration_id'),
    /** The source's own change time of the version written (its incremental cursorField); null when the writer did not know it. */
    sourceChangedAt: ts('source_changed_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.sku, t.priceList, t.currency] })],
);

export const catalogInventory = pgTable(
  'catalog_inventory',
  {
    tenantId: tenantRef(),
    sku: text('sku').notNull(),
    warehouse: text('warehouse').notNull(),
    quantity: integer('quantity').notNull(),
    integrationId: text('integration_id'),
    /** The source's own change time of the version written (its incremental cursorField); null when the writer did not know it. */
    sourceChangedAt: ts('source_changed_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.sku, t.warehouse] })],
);

export const catalogOrders = pgTable(
  'catalog_orders',
  {
    tenantId: tenantRef(),
    number: text('number').notNull(),
    status: text('status').notNull(),
    currency: text('currency').notNull(),
    totalMinor: bigint('total_minor', { mode: 'number' }).notNull(),
    lines: jsonb('lines').$type<{ sku: string; quantity: number; unitPriceMinor: number }[]>().notNull(),
    orderedAt: ts('ordered_at'),
    integrationId: text('integration_id'),
    /** The source's own change time of the version written (its incremental cursorField); null when the writer did not know it. */
    sourceChangedAt: ts('source_changed_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.number] })],
);
