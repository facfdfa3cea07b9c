/**
 * Events Switchyard pushes to the merchant: each is written in the transaction of the change it
 * describes, fanned out to the tenant's webhook endpoints, and delivered in order per resource.
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, sealedCredentials, updatedAt } from './columns.js';
import { tenants } from './core.js';

/**
 * One change, as the merchant sees it. `position` orders all events (the list cursor and the relay's
 * watermark); `sequence` orders one resource's events (1, 2, 3...) for consumers.
 */
export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    position: bigserial('position', { mode: 'number' }).notNull(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id').notNull(),
    sequence: bigint('sequence', { mode: 'number' }).notNull(),
    /** The resource's new state (or the event's own body), as the API would show it. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    /** Set by the relay once a delivery row exists for every endpoint that wants it. */
    fannedOutAt: timestamp('fanned_out_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('events_position_uq').on(t.position),
    uniqueIndex('events_resource_sequence_uq').on(t.tenantId, t.resourceType, t.resourceId, t.sequence),
    index('events_tenant_position_idx').on(t.tenantId, t.position),
    index('events_tenant_type_idx').on(t.tenantId, t.type, t.position),
    index('events_created_idx').on(t.createdAt),
    index('events_unfanned_idx').on(t.position).where(sql`fanned_out_at is null`),
  ],
);

/** The last sequence number given to each resource: an upsert on it serializes one resource's writers. */
export const eventSequences = pgTable(
  'event_sequences',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id').notNull(),
    lastSequence: bigint('last_sequence', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.resourceType, t.resourceId] })],
);

/** A merchant URL that receives events. The signing secret is sealed like credentials. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description'),
    /** Event type patterns: exact types, `payment.*`, or `*`. */
    eventTypes: text('event_types').array().notNull(),
    /** `full`: the resource's state in `data`; `thin`: only type, id and sequence (fetch to read). */
    payloadStyle: text('payload_style', { enum: ['full', 'thin'] }).notNull().default('full'),
    enabled: boolean('enabled').notNull().default(true),
    /** Why it was disabled: `manual`, `gone` (the endpoint answered 410), `failing` (failed too long). */
    disabledReason: text('disabled_reason'),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    secret: sealedCredentials('secret', {
      storage: 'bytea',
      resourceType: 'webhook_endpoint',
      keyIdColumn: 'secret_key_id',
      boundTo: (id) => `webhook-endpoint:${id}:secret`,
    }).notNull(),
    secretKeyId: text('secret_key_id').notNull(),
    /** The secret before the last rotation, still signed with until `previous_secret_expires_at`. */
    previousSecret: sealedCredentials('previous_secret', {
      storage: 'bytea',
      resourceType: 'webhook_endpoint',
      keyIdColumn: 'previous_secret_key_id',
      boundTo: (id) => `webhook-endpoint:${id}:previous-secret`,
    }),
    previousSecretKeyId: text('previous_secret_key_id'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    /** Since when every attempt has failed (null after a success): the auto-disable clock. */
    failingSince: timestamp('failing_since', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('webhook_endpoints_tenant_idx').on(t.tenantId, t.createdAt, t.id)],
);

/** One event owed to one endpoint. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    /** `pending` until a 2xx (`delivered`), the retry window ends (`failed`) or the endpoint is disabled (`canceled`). */
    status: text('status', { enum: ['pending', 'delivered', 'failed', 'canceled'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt, t.id),
    index('webhook_deliveries_event_idx').on(t.eventId),
    index('webhook_deliveries_pending_idx').on(t.endpointId).where(sql`status = 'pending'`),
  ],
);

/** Every HTTP attempt of a delivery, with what the endpoint answered. */
export const webhookDeliveryAttempts = pgTable(
  'webhook_delivery_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    eventId: text('event_id').notNull(),
    attemptedAt: timestamp('attempted_at', { withTimezone: true }).notNull().defaultNow(),
    /** The HTTP status, or null when no answer came (timeout, refused, blocked destination). */
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    /** The first bytes of the response body (at most 1 KiB, as text). */
    responseHead: text('response_head'),
  },
  (t) => [index('webhook_delivery_attempts_delivery_idx').on(t.deliveryId, t.id), index('webhook_delivery_attempts_endpoint_idx').on(t.endpointId, t.id)],
);
