/**
 * The signature of an ERP webhook, checked over the raw body before anything is parsed:
 * `X-Webhook-Signature: sha256=<hex HMAC-SHA256(webhookSecret, "<timestamp>.<body>")>` with
 * `X-Webhook-Timestamp` (ISO 8601 or Unix seconds) within 5 minutes (docs/erp-integrations.md).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

/** Epoch ms of an ISO 8601 or Unix-seconds timestamp; NaN when it is neither. */
export function parseWebhookTimestamp(value: string): number {
  if (/^\d{9,11}$/.test(value)) return Number(value) * 1000;
  return /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
}

/** Verifies signature and timestamp; throws a 401 that says which check failed. */
export function verifyErpWebhook(raw: Buffer, headers: { signature?: string; timestamp?: string }, secret: string, now: number): void {
  const refuse = (message: string) => new ApiError(401, 'webhook_signature_invalid', message);
  if (!headers.signature || !headers.timestamp) throw refuse('X-Webhook-Signature and X-Webhook-Timestamp are required');
  const at = parseWebhookTimestamp(headers.timestamp);
  if (Number.isNaN(at)) throw refuse('X-Webhook-Timestamp is neither ISO 8601 nor Unix seconds');
  if (Math.abs(now - at) > WEBHOOK_TOLERANCE_MS) throw refuse('X-Webhook-Timestamp is outside the 5-minute tolerance');
  const match = /^sha256=([0-9a-f]{64})$/i.exec(headers.signature.trim());
  if (!match) throw refuse("X-Webhook-Signature must be 'sha256=<hex>'");
  const expected = createHmac('sha256', secret).update(`${headers.timestamp}.`).update(raw).digest();
  const given = Buffer.from(match[1]!, 'hex');
  if (!timingSafeEqual(expected, given)) throw refuse('signature does not match');
}
