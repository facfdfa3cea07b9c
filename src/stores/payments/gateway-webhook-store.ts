import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { connections, payments, paymentAttempts, webhookEvents } from '../../db/schema.js';
import type { GatewayWebhookEvent } from '../../providers/types.js';

/*
 * The inbox of gateway callbacks: each event stored once per connection and event id, with the
 * payment it is about and whether that payment's run has been signalled, so a redelivered event is
 * acknowledged without a second signal and one whose signal failed is signalled again.
 */

export type WebhookConnection = typeof connections.$inferSelect;

/** The connection a callback is addressed to, by its id alone: the URL is all the sender knows. */
export async function webhookConnection(db: Db, connectionId: string): Promise<WebhookConnection | null> {
  const [conn] = await db.select().from(connections).where(eq(connections.id, connectionId));
  return conn ?? null;
}

/** A stored event: the payment it is about (null: none of ours), whether it was stored before, and whether it was signalled. */
export interface StoredGatewayEvent {
  paymentId: string | null;
  duplicate: boolean;
  signalled: boolean;
}

/**
 * Stores a verified event, or finds it stored by an earlier delivery. The payment is found by our
 * payment id (scoped to the tenant), else by the gateway's reference on one of our attempts at this
 * connection: a subquery, so storing the event and finding its payment are one statement.
 */
export async function storeGatewayEvent(
  db: Db,
  conn: { id: string; tenantId: string },
  event: GatewayWebhookEvent,
  payload: unknown,
): Promise<StoredGatewayEvent> {
  const paymentOf = sql<string | null>`coalesce(
    (select ${payments.id} from ${payments} where ${payments.id} = ${event.paymentId ?? null} and ${payments.tenantId} = ${conn.tenantId}),
    (select ${paymentAttempts.paymentId} from ${paymentAttempts}
      where ${paymentAttempts.connectionId} = ${conn.id} and ${paymentAttempts.gatewayReference} = ${event.reference ?? null} limit 1))`;
  const [inserted] = await db
    .insert(webhookEvents)
    .values({
      id: newId('whe'),
      tenantId: conn.tenantId,
      connectionId: conn.id,
      eventId: event.eventId,
      type: event.type,
      paymentId: paymentOf,
      payload,
    })
    .onConflictDoNothing()
    .returning({ paymentId: webhookEvents.paymentId });
  if (inserted) return { paymentId: inserted.paymentId, duplicate: false, signalled: false };
  // A redelivery: the stored event says which payment it was about and whether it was signalled.
  const [stored] = await db
    .select({ paymentId: webhookEvents.paymentId, signalledAt: webhookEvents.signalledAt })
    .from(webhookEvents)
    .where(and(eq(webhookEvents.connectionId, conn.id), eq(webhookEvents.eventId, event.eventId)));
  return { paymentId: stored?.paymentId ?? null, duplicate: true, signalled: Boolean(stored?.signalledAt) };
}

/** Marks the event delivered (its payment's run, or the customer's sync, was signalled). */
export async function markGatewayEventSignalled(db: Db, connectionId: string, eventId: string): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ signalledAt: new Date() })
    .where(and(eq(webhookEvents.connectionId, connectionId), eq(webhookEvents.eventId, eventId), isNull(webhookEvents.signalledAt)));
}
