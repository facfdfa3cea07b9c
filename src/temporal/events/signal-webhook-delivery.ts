import type { Client } from '@temporalio/client';
import { webhookDeliveriesSignal, type QueuedWebhookDelivery, type WebhookDeliveriesSignal } from '../../shared/event-messages.js';
import { tenantPriority } from '../../shared/fairness.js';
import { EndpointIdAttr, EventTypeAttr, TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import type { DeliveryToSignal } from '../../shared/event-messages.js';
import { signalWithStartWorkflow } from '../start-workflow.js';

/** Signals to different workflows sent at once (each is a round trip to Temporal). */
const PARALLEL_SIGNALS = 16;

/**
 * Hands deliveries to their entity workflows (one per endpoint and resource), starting the ones not
 * running (signal-with-start): one signal per workflow with its deliveries in sequence order. A
 * workflow drops a delivery id it already has, so signalling again after a crash is harmless.
 */
export async function signalWebhookDeliveries(client: Client, taskQueue: string, deliveries: DeliveryToSignal[]): Promise<void> {
  const byWorkflow = new Map<string, DeliveryToSignal[]>();
  for (const d of deliveries) {
    const id = workflowId.webhookDelivery(d.endpointId, d.resourceType, d.resourceId);
    byWorkflow.set(id, [...(byWorkflow.get(id) ?? []), d]);
  }
  const groups = [...byWorkflow.entries()];
  for (let i = 0; i < groups.length; i += PARALLEL_SIGNALS) {
    await Promise.all(groups.slice(i, i + PARALLEL_SIGNALS).map(([id, group]) => signalOne(client, taskQueue, id, group)));
  }
}

async function signalOne(client: Client, taskQueue: string, id: string, group: DeliveryToSignal[]): Promise<void> {
  const first = group[0]!;
  const queued: QueuedWebhookDelivery[] = [...group]
    .sort((a, b) => a.sequence - b.sequence)
    .map((d) => ({ deliveryId: d.deliveryId, sequence: d.sequence, eventType: d.eventType }));
  await signalWithStartWorkflow<'webhookDeliveryWorkflow', [WebhookDeliveriesSignal]>(client, 'webhookDeliveryWorkflow', {
    workflowId: id,
    taskQueue,
    args: [{ tenantId: first.tenantId, endpointId: first.endpointId, resourceType: first.resourceType, resourceId: first.resourceId }],
    signal: webhookDeliveriesSignal,
    signalArgs: [{ deliveries: queued }],
    typedSearchAttributes: [
      { key: TenantIdAttr, value: first.tenantId },
      { key: EndpointIdAttr, value: first.endpointId },
      { key: EventTypeAttr, value: queued[0]!.eventType },
    ],
    priority: tenantPriority(first.tenantId),
  });
}
