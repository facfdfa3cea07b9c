/** The inbox of ERP webhooks (table erp_webhook_events): each event stored once per integration and event id. */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { erpWebhookEvents } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import type { IntegrationRow } from './integration-store.js';

/** An event's inbox row: `duplicate` when the event id was stored before; `processedAt` once applied. */
export interface InboxEntry {
  id: string;
  processedAt: Date | null;
  duplicate: boolean;
}

/**
 * Stores a verified event unless its id is already in the inbox, and answers its inbox row; undefined
 * when a duplicate's row vanished in between (the integration was deleted while it was received).
 */
export async function receiveWebhookEvent(
  db: Db,
  integration: IntegrationRow,
  event: { id: string; entity: ErpEntity; payload: object },
): Promise<InboxEntry | undefined> {
  const [stored] = await db
    .insert(erpWebhookEvents)
    .values({ id: newId('ewe'), tenantId: integration.tenantId, integrationId: integration.id, eventId: event.id, entity: event.entity, payload: event.payload })
    .onConflictDoNothing({ target: [erpWebhookEvents.integrationId, erpWebhookEvents.eventId] })
    .returning({ id: erpWebhookEvents.id, processedAt: erpWebhookEvents.processedAt });
  if (stored) return { ...stored, duplicate: false };
  const [earlier] = await db
    .select({ id: erpWebhookEvents.id, processedAt: erpWebhookEvents.processedAt })
    .from(erpWebhookEvents)
    .where(and(eq(erpWebhookEvents.integrationId, integration.id), eq(erpWebhookEvents.eventId, event.id)));
  return earlier ? { ...earlier, duplicate: true } : undefined;
}
