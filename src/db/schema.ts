
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
const money = (name: string) => bigint(name, { mode: 'number' });

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
    credentialsCiphertext: bytea('credentials_ciphertext').notNull(),
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

export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    status: text('status').notNull().default('pending'),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    country: text('country').notNull(),
    paymentMethodType: text('payment_method_type').notNull(),
    paymentMethodToken: text('payment_method_token').notNull(),
    captureMode: text('capture_mode').notNull(),
    customerId: text('customer_id'),
    description: text('description'),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    amountCaptured: money('amount_captured').notNull().default(0),
    amountRefunded: money('amount_refunded').notNull().default(0),
    connectionId: text('connection_id'),
    gatewayReference: text('gateway_reference'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    routing: jsonb('routing').$type<unknown>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('payments_tenant_created_idx').on(t.tenantId, t.createdAt, t.id)],
);

export const paymentAttempts = pgTable(
  'payment_attempts',
  {
    id: text('id').primaryKey(),
    paymentId: text('payment_id')
      .notNull()
      .references(() => payments.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    attemptNumber: integer('attempt_number').notNull(),
    connectionId: text('connection_id').notNull(),
    provider: text('provider').notNull(),
    reason: text('reason').notNull(),
    status: text('status').notNull().default('processing'),
    errorClass: text('error_class'),
    errorCode: text('error_code'),
    /** errorCode in the unified vocabulary (src/domain/payments/decline-codes.ts). */
    unifiedCode: text('unified_code'),
    errorMessage: text('error_message'),
    gatewayReference: text('gateway_reference'),
    idempotencyKey: text('idempotency_key').notNull(),
    /** Set once reconciliation has settled an abandoned or unknown attempt (asked, reversed or closed). */
    reconciledAt: timestamp('reconciled_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('payment_attempts_payment_attempt_uq').on(t.paymentId, t.attemptNumber),
    index('payment_attempts_gateway_ref_idx').on(t.connectionId, t.gatewayReference),
  ],
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

export const refunds = pgTable(
  'refunds',
  {
    id: text('id').primaryKey(),
    paymentId: text('payment_id')
      .notNull()
      .references(() => payments.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    amount: money('amount').notNull(),
    status: text('status').notNull().default('pending'),
    reason: text('reason'),
    gatewayReference: text('gateway_reference'),
    failureMessage: text('failure_message'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('refunds_payment_idx').on(t.paymentId)],
);

export const routingRules = pgTable(
  'routing_rules',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    priority: integer('priority').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    conditions: jsonb('conditions').$type<Record<string, unknown>>().notNull().default({}),
    connectionIds: jsonb('connection_ids').$type<string[]>().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('routing_rules_tenant_idx').on(t.tenantId, t.priority)],
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

/** Health checks and circuit breaker per connection; feeds routing. */
export const connectionHealth = pgTable('connection_health', {
  connectionId: text('connection_id')
    .primaryKey()
    .references(() => connections.id, { onDelete: 'cascade' }),
  tenantId: text('tenant_id').notNull(),
  health: text('health', { enum: ['healthy', 'unhealthy', 'unknown'] })
    .notNull()
    .default('unknown'),
  lastCheckAt: timestamp('last_check_at', { withTimezone: true }),
  lastCheckLatencyMs: integer('last_check_latency_ms'),
  lastCheckDetail: text('last_check_detail'),
  consecutiveCheckFailures: integer('consecutive_check_failures').notNull().default(0),
  circuit: jsonb('circuit').$type<Record<string, unknown>>(),
  updatedAt: updatedAt(),
});

export * from './tables/tenancy.js';
export * from './tables/customers.js';
export * from './tables/circuit.js';
export * from './tables/erp.js';
export * from './tables/erp-uploads.js';
export * from './tables/payment-counts.js';
