/** Verifies and parses a declarative provider's callbacks: signature over the raw bytes first. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { GatewayStatus } from '../../domain/payments/payment-status.js';
import { parseTemplate, readPath, renderString } from '../../domain/template.js';
import { WebhookPayloadError, WebhookSignatureError, type GatewayWebhookEvent, type HeaderBag } from '../types.js';
import type { ProviderDefinition } from './definition.js';
import { readString } from './http.js';

type WebhookDefinition = NonNullable<ProviderDefinition['webhook']>;
type SignatureRule = WebhookDefinition['signature'];

/** Header values by case-insensitive name; arrays flattened. */
export function headerValues(headers: HeaderBag, name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    out.push(...(Array.isArray(value) ? value : [value]));
  }
  return out;
}

/** The bytes that were signed: the signedPayload template with `{{body}}` spliced in as raw bytes. */
export function signedPayloadBytes(
  rule: SignatureRule,
  rawBody: Buffer,
  timestamp: string | undefined,
): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parseTemplate(rule.signedPayload)) {
    if (part.kind === 'text') chunks.push(Buffer.from(part.text, 'utf8'));
    else if (part.expr.path === 'body') chunks.push(rawBody);
    else chunks.push(Buffer.from(renderString(`{{${part.source}}}`, { timestamp }), 'utf8'));
  }
  return Buffer.concat(chunks);
}

/** Computes the signature header value a provider would send (used by emulators and tests). */
export function computeWebhookSignature(
  rule: SignatureRule,
  secret: string,
  rawBody: Buffer,
  timestamp?: string,
): string {
  const mac = createHmac('sha256', secret)
    .update(signedPayloadBytes(rule, rawBody, timestamp))
    .digest(rule.encoding);
  return (rule.prefix ?? '') + mac;
}

function decodeSignature(text: string, encoding: 'hex' | 'base64'): Buffer | null {
  if (encoding === 'hex')
    return /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : null;
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
}

/** Throws WebhookSignatureError unless one of the signatures in the header matches. */
export function verifyWebhookSignature(
  rule: SignatureRule,
  secret: string,
  rawBody: Buffer,
  headers: HeaderBag,
  nowMs: number,
): void {
  const usesTimestamp = rule.signedPayload.includes('timestamp');
  let timestamp: string | undefined;
  if (rule.timestampHeader) {
    timestamp = headerValues(headers, rule.timestampHeader)[0]?.trim();
    if (!timestamp || !/^\d+$/.test(timestamp))
      throw new WebhookSignatureError(`Missing or malformed ${rule.timestampHeader} header`);
    const seconds = timestamp.length > 11 ? Number(timestamp) / 1000 : Number(timestamp);
    if (Math.abs(nowMs / 1000 - seconds) > rule.toleranceSeconds) {
      throw new WebhookSignatureError(`Webhook timestamp is outside the ${rule.toleranceSeconds}s tolerance`);
    }
  } else if (usesTimestamp) {
    throw new WebhookSignatureError('Webhook rule signs a timestamp but has no timestampHeader');
  }
  const candidates = headerValues(headers, rule.header)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (candidates.length === 0) throw new WebhookSignatureError(`Missing ${rule.header} header`);
  const expected = createHmac('sha256', secret)
    .update(signedPayloadBytes(rule, rawBody, timestamp))
    .digest();
  for (const candidate of candidates) {
    if (rule.prefix && !candidate.startsWith(rule.prefix)) continue;
    const given = decodeSignature(
      rule.prefix ? candidate.slice(rule.prefix.length) : candidate,
      rule.encoding,
    );
    if (given && given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookSignatureError('Webhook signature does not match');
}

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
