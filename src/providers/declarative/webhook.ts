/** Parses a declarative provider's callbacks once webhook-signature.ts has verified the raw bytes. */
import { createHash } from 'node:crypto';
import type { GatewayStatus } from '../../domain/payments/payment-status.js';
import { readPath } from '../../domain/template.js';
import { WebhookPayloadError, type GatewayWebhookEvent } from '../types.js';
import type { ProviderDefinition } from './definition.js';
import { readString } from './http.js';

type WebhookDefinition = NonNullable<ProviderDefinition['webhook']>;

/** Reads the event fields after the signature was verified. Unknown statuses are left out. */
export function parseWebhookEvent(
  webhook: WebhookDefinition,
  statusMap: Record<string, GatewayStatus>,
  rawBody: Buffer,
): GatewayWebhookEvent {
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new WebhookPayloadError('Webhook body is not valid JSON');
  }
  const { event } = webhook;
  const eventId = event.eventId
    ? readString(payload, event.eventId)
    : `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
  if (!eventId) throw new WebhookPayloadError(`Webhook body has no string event id at '${event.eventId ?? ''}'`);
  const rawStatus = event.status ? readPath(payload, event.status) : undefined;
  const map = { ...statusMap, ...webhook.statusMap };
  const status = typeof rawStatus === 'string' && Object.hasOwn(map, rawStatus) ? map[rawStatus] : undefined;
  const result: GatewayWebhookEvent = { eventId, type: readString(payload, event.type) ?? 'unknown' };
  const reference = readString(payload, event.reference);
  const paymentId = readString(payload, event.paymentId);
  if (reference !== undefined) result.reference = reference;
  if (paymentId !== undefined) result.paymentId = paymentId;
  if (status !== undefined) result.status = status;
  return result;
}
