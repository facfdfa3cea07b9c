/**
 * CSV files uploaded for ERP integrations, stored in Postgres as numbered chunks: the API process
 * receives them and a worker (often another host) reads them, so a local file would not do; chunks
 * of a bytea table work the same on Postgres and embedded PGlite (large objects need a transaction
 * per descriptor and are not removed by ON DELETE CASCADE), and are written and read one at a time,
 * so neither side holds the whole file.
 */
import { bigint, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './columns.js';
import { tenants } from './core.js';
import { erpIntegrations } from './erp.js';

export const erpUploads = pgTable(
  'erp_uploads',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    integrationId: text('integration_id')
      .notNull()
      .references(() => erpIntegrations.id, { onDelete: 'cascade' }),
    entity: text('entity').notNull(),
    contentType: text('content_type').notNull(),
    /** Bytes received so far; final once status is `complete`. */
    size: bigint('size', { mode: 'number' }).notNull().default(0),
    status: text('status', { enum: ['receiving', 'complete'] }).notNull().default('receiving'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('erp_uploads_latest_idx').on(t.integrationId, t.entity, t.status, t.createdAt)],
);

export const erpUploadChunks = pgTable(
  'erp_upload_chunks',
  {
    uploadId: text('upload_id')
      .notNull()
      .references(() => erpUploads.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.seq] })],
);
