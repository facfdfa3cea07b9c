/** Payments: the read model of payment runs, their attempts and refunds, routing rules and connection health. */
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, updatedAt, money } from './columns.js';
import { tenants, connections } from './core.js';

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
