/** Tenants, their API keys, connections and provider definitions; the idempotency keys and webhook inbox all families share. */
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, sealedCredentials, updatedAt } from './columns.js';

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

/** API keys are stored as SHA-256 digests; the plain key is shown once, at creation. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    name: text('name').notNull().default('default'),
    /** `read` keys may only call read routes; `full` keys may call every tenant route. */
    scope: text('scope', { enum: ['read', 'full'] }).notNull().default('full'),
    createdAt: createdAt(),
    /** Updated at most once a minute per key (see src/api/auth.ts). */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_key_hash_uq').on(t.keyHash), index('api_keys_tenant_idx').on(t.tenantId)],
);

/** A tenant's account at a provider. Credentials are AES-256-GCM ciphertext bound to tenant + connection. */
export const connections = pgTable(
  'connections',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    code: text('code').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: ['active', 'disabled'] })
      .notNull()
      .default('active'),
    credentialsCiphertext: sealedCredentials('credentials_ciphertext', {
      storage: 'bytea',
      resourceType: 'connection',
      keyIdColumn: 'credentials_key_id',
      boundTo: (id) => id,
    }).notNull(),
    credentialsKeyId: text('credentials_key_id').notNull(),
    /** Bumped on every credential change; provider clients are cached per (connection, version). */
    credentialsVersion: integer('credentials_version').notNull().default(1),
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('connections_tenant_code_uq').on(t.tenantId, t.code), index('connections_tenant_idx').on(t.tenantId)],
);

/** Declarative provider definitions registered by a tenant through the API (files are loaded at start). */
export const providerDefinitions = pgTable(
  'provider_definitions',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    definition: jsonb('definition').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/** Idempotency-Key of POST requests: the request hash and the stored response, per tenant and scope. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    resourceId: text('resource_id').notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.scope, t.key] })],
);

/** Inbox of provider callbacks: stored before acknowledging, deduplicated on (connection, event id). */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    connectionId: text('connection_id').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    paymentId: text('payment_id'),
    payload: jsonb('payload').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    signalledAt: timestamp('signalled_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('webhook_events_connection_event_uq').on(t.connectionId, t.eventId)],
);
