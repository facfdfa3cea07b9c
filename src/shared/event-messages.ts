import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * The events family's contract between the relay, the API and the delivery workflow
 * (`webhook-delivery-<endpoint>-<resource type>-<resource id>`): inputs, the signal and the query.
 */

/** One delivery row owed by the workflow's endpoint, for one event of the workflow's resource. */
export interface QueuedWebhookDelivery {
  deliveryId: string;
  /** The event's per-resource sequence: deliveries go out in this order. */
  sequence: number;
  /** The event's type (the run's EventType search attribute while it is being sent). */
  eventType: string;
}

/** How a delivery is retried (the WEBHOOK_RETRY_* and WEBHOOK_TIMEOUT_MS settings of the worker). */
export interface WebhookRetryPolicy {
  /** The retry window of one delivery (the activity's schedule-to-close timeout), in ms. */
  windowMs: number;
  /** The first retry's delay, in ms; each next one doubles, up to `maxDelayMs`. */
  firstDelayMs: number;
  /** The longest wait between two attempts (WEBHOOK_RETRY_MAX_DELAY_SECONDS), in ms. */
  maxDelayMs: number;
  /** One attempt's HTTP time cap (WEBHOOK_TIMEOUT_MS): the activity's start-to-close timeout follows it. */
  attemptTimeoutMs: number;
}

export interface WebhookDeliveryInput {
  tenantId: string;
  endpointId: string;
  resourceType: string;
  resourceId: string;
  /** What a run hands to the next one when it continues as new. */
  carried?: CarriedWebhookDeliveries;
}

export interface CarriedWebhookDeliveries {
  queue: QueuedWebhookDelivery[];
  /** Delivery ids already handled, to drop a repeated signal (the relay signals again after a crash). */
  recent: string[];
  policy: WebhookRetryPolicy;
}

/** New deliveries for the run's endpoint and resource (from the relay, redeliver or replay). */
export interface WebhookDeliveriesSignal {
  deliveries: QueuedWebhookDelivery[];
}

export const webhookDeliveriesSignal = defineSignal<[WebhookDeliveriesSignal]>('webhookDeliveries');

export interface WebhookDeliveryProgress {
  /** The delivery being sent (and retried) now, if any. */
  current: string | null;
  queued: number;
  handled: number;
}

export const webhookDeliveryProgressQuery = defineQuery<WebhookDeliveryProgress>('webhookDeliveryProgress');

/** What deliverWebhook did with a delivery. */
export type WebhookDeliveryOutcome =
  /** A 2xx answer. */
  | 'delivered'
  /** Already delivered, failed or canceled (a repeated signal, a redelivery of a finished row). */
  | 'finished'
  /** The endpoint is disabled or deleted: the delivery is canceled. */
  | 'canceled'
  /** The delivery row does not exist (deleted with its endpoint or event). */
  | 'missing';

/** A delivery as its entity workflow is told about it (the relay and the API signal it). */
export interface DeliveryToSignal {
  deliveryId: string;
  tenantId: string;
  endpointId: string;
  eventId: string;
  resourceType: string;
  resourceId: string;
  sequence: number;
  eventType: string;
}

/** The retention sweep's input: events older than this many days go (EVENTS_RETENTION_DAYS). */
export interface EventRetentionInput {
  retentionDays: number;
}
