import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookDeliveryActivities } from '../../activities/events/webhook-delivery-activities.js';
import { WebhookFailureType } from '../../domain/events/webhook-failures.js';
import {
  webhookDeliveriesSignal,
  webhookDeliveryProgressQuery,
  type QueuedWebhookDelivery,
  type WebhookDeliveryInput,
  type WebhookRetryPolicy,
} from '../../shared/event-messages.js';
import { EventTypeAttr } from '../../shared/search-attributes.js';
import { localBookkeeping, webhookPost } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

const { webhookRetryPolicy, giveUpWebhookDelivery } =
  proxyLocalActivities<Pick<WebhookDeliveryActivities, 'webhookRetryPolicy' | 'giveUpWebhookDelivery'>>(localBookkeeping);

/** With nothing to send for this long the run ends; the next delivery starts a new one (signal-with-start). */
const IDLE_TIMEOUT = '2 minutes';
/** Deliveries per run before it continues as new (a bounded history, whatever the traffic). */
const DELIVERIES_PER_RUN = 200;
/** Delivery ids remembered to drop a repeated signal; older repeats find their row settled. */
const REMEMBERED = 500;

/** The endpoint's answer ended the delivery and disabled the endpoint; nothing is left to settle. */
function endpointDisabledBy(err: ActivityFailure): boolean {
  if (!(err.cause instanceof ApplicationFailure)) return false;
  return err.cause.type === WebhookFailureType.EndpointGone || err.cause.type === WebhookFailureType.EndpointDisabled;
}

/** The earliest event of the queue first (a redelivery of an older event goes before newer ones). */
function takeEarliest(queue: QueuedWebhookDelivery[]): QueuedWebhookDelivery {
  let at = 0;
  for (let i = 1; i < queue.length; i++) if (queue[i]!.sequence < queue[at]!.sequence) at = i;
  return queue.splice(at, 1)[0]!;
}

/**
 * One entity workflow per webhook endpoint and resource
 * (`webhook-delivery-<endpoint>-<resource type>-<resource id>`): sends the resource's events to the
 * endpoint one at a time in sequence order, each retried on the exponential schedule until it is
 * delivered or its window ends, so a later event never overtakes an earlier one. Other resources and
 * endpoints have workflows of their own and never wait for this one.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<void> {
  const queue: QueuedWebhookDelivery[] = [...(input.carried?.queue ?? [])];
  const recent: string[] = [...(input.carried?.recent ?? [])];
  let current: QueuedWebhookDelivery | null = null;
  let handled = 0;

  setHandler(webhookDeliveriesSignal, ({ deliveries }) => {
    for (const d of deliveries) {
      const known = d.deliveryId === current?.deliveryId || recent.includes(d.deliveryId) || queue.some((q) => q.deliveryId === d.deliveryId);
      if (!known) queue.push(d);
    }
  });
  setHandler(webhookDeliveryProgressQuery, () => ({ current: current?.deliveryId ?? null, queued: queue.length, handled }));

  const policy: WebhookRetryPolicy = input.carried?.policy ?? (await webhookRetryPolicy());
  const { deliverWebhook } = waitingForTenantShare(proxyActivities<Pick<WebhookDeliveryActivities, 'deliverWebhook'>>(webhookPost(policy)));

  for (;;) {
    if (!(await condition(() => queue.length > 0, IDLE_TIMEOUT))) return;
    current = takeEarliest(queue);
    upsertSearchAttributes([{ key: EventTypeAttr, value: current.eventType }]);
    const delivery = { tenantId: input.tenantId, deliveryId: current.deliveryId };
    try {
      await deliverWebhook(delivery);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // The retry window is over (or the failure was final): the delivery failed, the next one goes.
      if (!endpointDisabledBy(err)) await giveUpWebhookDelivery(delivery);
    }
    recent.push(current.deliveryId);
    if (recent.length > REMEMBERED) recent.shift();
    current = null;
    handled += 1;
    if (handled >= DELIVERIES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof webhookDeliveryWorkflow>({ ...input, carried: { queue, recent, policy } });
    }
  }
}
