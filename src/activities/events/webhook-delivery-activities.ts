/**
 * The delivery side of webhooks to the merchant: one signed POST of one delivery through the egress
 * guard, its attempt recorded with what the endpoint answered, and what that answer does to the
 * endpoint (src/stores/events/webhook-delivery-store.ts). The delivery workflow retries it.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../db/client.js';
import { MAX_RETRY_DELAY_MS, RESPONSE_HEAD_BYTES, scheduledRetryDelay } from '../../domain/events/webhook-delivery-rules.js';
import { WebhookFailureType } from '../../domain/events/webhook-failures.js';
import { webhookAttempts, webhookDeliveriesSettled, webhookDeliveryLag, webhookEndpointsDisabled } from '../../metrics/worker-metrics.js';
import type { FetchLike } from '../../providers/declarative/http.js';
import { EgressLimitError } from '../../providers/egress/egress-fetch.js';
import { retryAfterOf } from '../../providers/retry-after.js';
import { OutboundUrlError } from '../../providers/url-policy.js';
import type { CredentialCipher } from '../../secrets/credential-cipher.js';
import type { WebhookDeliveryOutcome, WebhookRetryPolicy } from '../../shared/event-messages.js';
import { eventBody } from '../../stores/events/event-store.js';
import {
  findDeliveryToSend,
  recordWebhookAttempt,
  settleWebhookDelivery,
  type AttemptRecord,
} from '../../stores/events/webhook-delivery-store.js';
import { openEndpointSecrets } from '../../stores/events/webhook-endpoint-store.js';

/** The worker's webhook settings (WEBHOOK_* in docs/configuration.md), in ms. */
export interface WebhookDeliverySettings {
  /** One attempt's HTTP time cap, headers and the first bytes of the body together. */
  timeoutMs: number;
  /** How long an endpoint may fail (no success at all) before it is disabled. */
  disableAfterMs: number;
  /** How long one delivery is retried. */
  retryWindowMs: number;
  /** The first retry's delay (each next one doubles, up to maxRetryDelayMs). */
  firstRetryDelayMs: number;
  /** The longest wait between two attempts. */
  maxRetryDelayMs: number;
}

const HOUR_MS = 3_600_000;
export const DEFAULT_WEBHOOK_SETTINGS: WebhookDeliverySettings = {
  timeoutMs: 10_000,
  disableAfterMs: 72 * HOUR_MS,
  retryWindowMs: 72 * HOUR_MS,
  firstRetryDelayMs: 5_000,
  maxRetryDelayMs: MAX_RETRY_DELAY_MS,
};

export interface WebhookDeliveryDeps {
  db: Db;
  cipher: CredentialCipher;
  /** The egress guard (DNS-pinned, private ranges refused, redirects not followed): endpoint URLs are tenant-supplied. */
  webhookFetch: FetchLike;
  webhookSettings?: Partial<WebhookDeliverySettings>;
}

/** What the activity is called with: the tenant first, so the worker holds it to its share of calls. */
export interface DeliverWebhookInput {
  tenantId: string;
  deliveryId: string;
}

/**
 * The headers of a signed delivery per the Standard Webhooks specification: `webhook-id` (the event's
 * id: the same on every attempt and redelivery, so a receiver can drop repeats), `webhook-timestamp`
 * (this attempt, in seconds) and `webhook-signature`, with one `v1,<signature>` per secret in use:
 * during a rotation's grace period the old secret signs too, so receivers may switch at their pace.
 */
export function signedWebhookHeaders(
  secrets: { current: string; previous?: string },
  webhookId: string,
  at: Date,
  body: string,
): Record<string, string> {
  const signatures = [secrets.current, ...(secrets.previous ? [secrets.previous] : [])].map((secret) =>
    new Webhook(secret).sign(webhookId, at, body),
  );
  return {
    'content-type': 'application/json',
    'user-agent': 'Switchyard-Webhooks/1',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

/** The first `max` bytes of a body as text, then the rest is dropped unread. */
async function readHead(res: Response, max: number): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut off (timeout, reset) after the status arrived: keep what came.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (size === 0) return null;
  // Postgres text takes no NUL; a character cut at the limit decodes as U+FFFD.
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max)).replaceAll('\u0000', '');
}

/** Why no answer came, in words for the attempt record (never the resolved address). */
function noAnswer(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err instanceof EgressLimitError || e.name === 'TimeoutError' || e.name === 'AbortError') {
    return `timeout: no answer within ${timeoutMs} ms`;
  }
  if (err instanceof OutboundUrlError) return `destination refused: ${err.message}`;
  const code = e.cause?.code;
  if (code) return `connection failed: ${code}`;
  return (e.cause?.message ?? e.message ?? String(err)).slice(0, 500);
}

export function createWebhookDeliveryActivities(deps: WebhookDeliveryDeps) {
  const settings: WebhookDeliverySettings = { ...DEFAULT_WEBHOOK_SETTINGS, ...deps.webhookSettings };

  return {
    /** The retry policy of this deployment, read once per delivery run (local activity). */
    async webhookRetryPolicy(): Promise<WebhookRetryPolicy> {
      return {
        windowMs: settings.retryWindowMs,
        firstDelayMs: settings.firstRetryDelayMs,
        maxDelayMs: settings.maxRetryDelayMs,
        attemptTimeoutMs: settings.timeoutMs,
      };
    },

    /**
     * Sends one delivery once. Returns when it is settled (delivered, or nothing to send); throws a
     * retryable WebhookAttemptFailed when the endpoint did not answer 2xx, and a non-retryable
     * WebhookEndpointGone / WebhookEndpointDisabled when the answer disabled the endpoint.
     */
    async deliverWebhook(input: DeliverWebhookInput): Promise<WebhookDeliveryOutcome> {
      const found = await findDeliveryToSend(deps.db, input.deliveryId);
      if (!found) return 'missing';
      const { delivery, event, endpoint } = found;
      if (delivery.status !== 'pending') return 'finished';
      if (!endpoint.enabled) {
        if (await settleWebhookDelivery(deps.db, delivery.id, 'canceled')) webhookDeliveriesSettled.inc({ status: 'canceled' });
        return 'canceled';
      }
      const body = JSON.stringify(eventBody(event, endpoint.payloadStyle));
      const attemptedAt = new Date();
      const headers = signedWebhookHeaders(openEndpointSecrets(deps, endpoint), event.id, attemptedAt, body);

      const started = performance.now();
      const record: AttemptRecord = { deliveryId: delivery.id, endpointId: endpoint.id, attemptedAt, statusCode: null, error: null, durationMs: 0, responseHead: null };
      let retryAfterMs: number | undefined;
      try {
        const res = await deps.webhookFetch(endpoint.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
        record.statusCode = res.status;
        retryAfterMs = retryAfterOf(res.status, (name) => res.headers.get(name));
        record.responseHead = await readHead(res, RESPONSE_HEAD_BYTES);
      } catch (err) {
        record.error = noAnswer(err, settings.timeoutMs);
      }
      record.durationMs = Math.round(performance.now() - started);

      const recorded = await recordWebhookAttempt(deps.db, record, { disableAfterMs: settings.disableAfterMs });
      webhookAttempts.inc({ result: recorded.result });
      const answer = record.statusCode === null ? record.error! : `HTTP ${record.statusCode}`;
      switch (recorded.result) {
        case 'delivered':
          webhookDeliveriesSettled.inc({ status: 'delivered' });
          webhookDeliveryLag.observe((Date.now() - event.createdAt.getTime()) / 1000);
          return 'delivered';
        case 'finished':
          return 'finished';
        case 'gone':
          webhookDeliveriesSettled.inc({ status: 'failed' });
          webhookEndpointsDisabled.inc({ reason: 'gone' });
          throw ApplicationFailure.create({
            type: WebhookFailureType.EndpointGone,
            nonRetryable: true,
            message: `endpoint ${endpoint.id} answered 410 Gone: disabled, its pending deliveries canceled`,
          });
        case 'disabled':
          webhookDeliveriesSettled.inc({ status: 'failed' });
          webhookEndpointsDisabled.inc({ reason: 'failing' });
          throw ApplicationFailure.create({
            type: WebhookFailureType.EndpointDisabled,
            nonRetryable: true,
            message: `endpoint ${endpoint.id} has failed since ${recorded.failingSince.toISOString()} (${answer} now): disabled`,
          });
        case 'retry': {
          // A 429/503 may ask for a longer wait than the schedule's, never a shorter one.
          const policy = { firstDelayMs: settings.firstRetryDelayMs, maxDelayMs: settings.maxRetryDelayMs };
          const scheduled = scheduledRetryDelay(policy, Context.current().info.attempt);
          throw ApplicationFailure.create({
            type: WebhookFailureType.AttemptFailed,
            message: `delivery ${delivery.id} to endpoint ${endpoint.id}: ${answer}`,
            ...(retryAfterMs !== undefined && retryAfterMs > scheduled ? { nextRetryDelay: Math.min(retryAfterMs, settings.maxRetryDelayMs) } : {}),
          });
        }
      }
    },

    /** The retry window ended without a 2xx: the delivery is failed (the next one of its resource goes). */
    async giveUpWebhookDelivery(input: DeliverWebhookInput): Promise<void> {
      if (await settleWebhookDelivery(deps.db, input.deliveryId, 'failed')) webhookDeliveriesSettled.inc({ status: 'failed' });
    },
  };
}

export type WebhookDeliveryActivities = ReturnType<typeof createWebhookDeliveryActivities>;
