/**
 * The `data` of each event type, for the OpenAPI document: an event carries its resource's new state
 * as the API shows it, so the payload of a type is the API's own output schema of that resource
 * (Payment, Refund, Customer, ErpRun...), imported from its route, never a copy. The few events that
 * describe something with no resource of its own in the API (a customer's sync failure or conflict,
 * an ERP catalog record) have their schema here. Each event type becomes a named component
 * (`PaymentSucceededEvent`...) of the union the events routes answer with.
 */
import { z } from 'zod';
import { inventoryRecord, orderRecord, priceRecord, productRecord } from '../../../domain/erp/entities.js';
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from '../../../domain/events/event-types.js';
import { connectionHealthOut } from '../connections.js';
import { customerOut } from '../customers/customers.js';
import { deadLetterOut, integrationOut, runOut } from '../erp/integrations.js';
import { paymentOut } from '../payments/payments.js';
import { webhookEndpointOut } from './webhook-endpoints.js';

const AT = '2026-12-07T10:15:30.000Z';
const CUSTOMER_ID = 'cust_8h2kq4m7v9x1t3n5p6rw';
const CONNECTION_ID = 'con_7m4k2x9q1v8t3n6p5r0w';
const INTEGRATION_ID = 'int_6p2m9k4x7q1v8t3n5r0w';

/** A refund as the payment's `refunds` list shows it (the Refund component). */
const refundOut = paymentOut.shape.refunds.element;

const customerSyncFailureOut = z
  .object({
    customerId: z.string(),
    version: z.number().int().positive().meta({ description: 'The version of the customer that could not be synced' }),
    connectionId: z.string(),
    remoteSystem: z.string(),
    failureReason: z.string(),
    at: z.string(),
  })
  .meta({
    id: 'CustomerSyncFailure',
    examples: [{ customerId: CUSTOMER_ID, version: 3, connectionId: CONNECTION_ID, remoteSystem: 'stripe', failureReason: 'the CRM refused the email', at: AT }],
  });

const customerSyncConflictOut = z
  .object({
    customerId: z.string(),
    connectionId: z.string(),
    field: z.string(),
    baseValue: z.unknown(),
    localValue: z.unknown(),
    remoteValue: z.unknown(),
    policy: z.string(),
    decision: z.enum(['local', 'remote']).meta({ description: 'Which side the conflict policy kept' }),
    at: z.string(),
  })
  .meta({
    id: 'CustomerSyncConflict',
    examples: [
      {
        customerId: CUSTOMER_ID,
        connectionId: CONNECTION_ID,
        field: 'phone',
        baseValue: '+49 30 1234567',
        localValue: '+49 30 7654321',
        remoteValue: '+49 30 1111111',
        policy: 'most_recent',
        decision: 'local',
        at: AT,
      },
    ],
  });

/** An ERP catalog record as GET /v1/catalog/... lists it: the mapped record, its integration and when it changed. */
function catalogRecordOut(id: string, record: z.ZodObject, example: Record<string, unknown>) {
  return z
    .object({ ...record.shape, integrationId: z.string().nullable(), updatedAt: z.string() })
    .meta({ id, examples: [{ ...example, integrationId: INTEGRATION_ID, updatedAt: AT }] });
}
const productOut = catalogRecordOut('CatalogProduct', productRecord, { sku: 'SKU-1042', name: 'Espresso cup, 90 ml', description: null, active: true });
const priceOut = catalogRecordOut('CatalogPrice', priceRecord, { sku: 'SKU-1042', priceList: 'retail', amountMinor: 1290, currency: 'EUR' });
const inventoryOut = catalogRecordOut('CatalogInventory', inventoryRecord, { sku: 'SKU-1042', warehouse: 'BER-1', quantity: 240 });
const orderOut = catalogRecordOut('CatalogOrder', orderRecord, {
  number: 'SO-20931',
  status: 'open',
  currency: 'EUR',
  totalMinor: 2580,
  lines: [{ sku: 'SKU-1042', quantity: 2, unitPriceMinor: 1290 }],
  orderedAt: AT,
});

/** The `data` schema of every event type; a type added to the catalog does not compile without one. */
export const EVENT_PAYLOADS = {
  'payment.succeeded': paymentOut,
  'payment.failed': paymentOut,
  'payment.requires_action': paymentOut,
  'payment.authorized': paymentOut,
  'payment.captured': paymentOut,
  'payment.canceled': paymentOut,
  'payment.refunded': paymentOut,
  'payment.partially_refunded': paymentOut,
  'refund.succeeded': refundOut,
  'refund.failed': refundOut,
  'customer.created': customerOut,
  'customer.updated': customerOut,
  'customer.deleted': customerOut,
  'customer.sync_failed': customerSyncFailureOut,
  'customer.sync_conflict': customerSyncConflictOut,
  'erp.run.completed': runOut,
  'erp.run.failed': runOut,
  'erp.dead_letter.created': deadLetterOut,
  'erp.dead_letter.closed': deadLetterOut,
  'product.updated': productOut,
  'price.updated': priceOut,
  'inventory.changed': inventoryOut,
  'order.created': orderOut,
  'connection.health_changed': connectionHealthOut,
  'connection.circuit_opened': connectionHealthOut,
  'integration.paused': integrationOut,
  'webhook_endpoint.disabled': webhookEndpointOut,
} as const satisfies Record<EventType, z.ZodType>;

/** `erp.run.completed` -> `ErpRunCompletedEvent`: the component name of an event type. */
export function eventComponentName(type: EventType): string {
  return `${type
    .split(/[._]/)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('')}Event`;
}

function eventOf<T extends EventType>(type: T) {
  const { resource, description } = EVENT_CATALOG[type];
  return z
    .object({
      id: z.string().meta({ description: 'evt_...; the `webhook-id` header of its deliveries' }),
      type: z.literal(type),
      created_at: z.string(),
      sequence: z.number().int().positive().meta({ description: "The event's number among its resource's events (1, 2, 3...): order by it, drop what you have seen" }),
      resource: z.object({ type: z.literal(resource), id: z.string() }),
      data: EVENT_PAYLOADS[type] as z.ZodType,
    })
    .meta({ id: eventComponentName(type), description });
}

/** Every event as GET /v1/events shows it and a `full` endpoint receives it; one component per type. */
export const eventOut = z
  .discriminatedUnion(
    'type',
    EVENT_TYPES.map((type) => eventOf(type)) as unknown as [ReturnType<typeof eventOf>, ...ReturnType<typeof eventOf>[]],
  )
  .meta({ id: 'Event', description: '`data` is the resource as the API shows it; thin endpoints receive the event without `data`.' });
