/**
 * An ERP connector's inbound webhooks: how they are signed (the shared signature parts; absent, the
 * platform's own X-Webhook-Signature scheme) and how an event is read (the envelope). Absent, the
 * envelope is the platform's `{id, entity, data}`. Configured, it says where the event id is (or that
 * it is derived from the raw body), where the event type is, which entities each type feeds (one event
 * may feed several, each through its own mapping) and where the records are. Event types the map does
 * not name are acknowledged and ignored.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ERP_ENTITIES, type ErpEntity } from '../../domain/erp/entities.js';
import { IntegrationInvalidError } from '../../domain/erp/integration-rules.js';
import { parsePath, readPath } from '../../domain/template.js';
import { webhookSignatureRule, webhookSignatureSchema, type WebhookSignatureRule } from '../declarative/webhook-signature.js';

/** Records one event may carry (the platform envelope's cap). */
const MAX_EVENT_RECORDS = 1000;
const MAX_EVENT_ID_CHARS = 200;

/** The platform's scheme, as parts: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of "<X-Webhook-Timestamp>.<body>">`. */
export const DEFAULT_ERP_WEBHOOK_SIGNATURE: WebhookSignatureRule = webhookSignatureRule({
  header: 'X-Webhook-Signature',
  prefix: 'sha256=',
  encoding: 'hex',
  algorithm: 'sha256',
  timestampHeader: 'X-Webhook-Timestamp',
  timestampFormat: 'unix_or_iso8601',
  signedPayload: '{{timestamp}}.{{body}}',
  toleranceSeconds: 300,
  secretCredential: 'webhookSecret',
});

const path = z
  .string()
  .max(200)
  .refine((p) => {
    try {
      return parsePath(p).length > 0;
    } catch {
      return false;
    }
  }, "not a valid path (dotted keys and [index], e.g. 'data.items')");

const entity = z.enum(ERP_ENTITIES);
const typeTarget = z.union([
  entity,
  z.array(entity).min(1).max(ERP_ENTITIES.length),
  z.strictObject({
    entities: z.array(entity).min(1).max(ERP_ENTITIES.length),
    records: path.optional().meta({ description: "Where this type's record or records are; the envelope's records when absent." }),
  }),
]);

const envelopeSchema = z.strictObject({
  eventId: path.optional().meta({ description: "Where the event's unique id is; absent, the id is 'sha256:' and the hex SHA-256 of the raw body, so a redelivered body is recognised." }),
  type: path.meta({ description: 'Where the event type is.' }),
  entities: z
    .record(z.string().min(1).max(200), typeTarget)
    .refine((m) => Object.keys(m).length > 0 && Object.keys(m).length <= 200, 'map between 1 and 200 event types')
    .meta({ description: 'Event type → the entity, or entities, it feeds. Other event types are acknowledged and ignored.' }),
  records: path.optional().meta({ description: 'Where the record (an object) or records (a list) are; the whole body when absent.' }),
});

export const erpWebhookSchema = z
  .strictObject({
    signature: webhookSignatureSchema.optional().meta({ description: 'How deliveries are signed; the platform scheme (X-Webhook-Signature, credential webhookSecret) when absent.' }),
    envelope: envelopeSchema.optional().meta({ description: "How an event is read; the platform's {id, entity, data} when absent." }),
  })
  .meta({ id: 'ErpWebhook', description: 'Inbound webhooks of the ERP. See docs/erp-integrations.md, Webhooks.' });

export type ErpWebhook = z.output<typeof erpWebhookSchema>;
export type ErpWebhookEnvelope = z.output<typeof envelopeSchema>;

function targetEntities(target: z.output<typeof typeTarget>): ErpEntity[] {
  return typeof target === 'string' ? [target] : Array.isArray(target) ? target : target.entities;
}

/** The rule a delivery is verified with. */
export function erpWebhookSignature(webhook: ErpWebhook | undefined): WebhookSignatureRule {
  return webhook?.signature ?? DEFAULT_ERP_WEBHOOK_SIGNATURE;
}

/** One entity's share of an event: stored in the inbox under `inboxId` and applied by that entity's mapping. */
export interface EntityDelivery {
  entity: ErpEntity;
  /** The inbox key: the event id, or `<event id>#<entity>` when the event feeds several entities. */
  inboxId: string;
  /** What the inbox stores (the apply reads `data`). */
  payload: { id: string; entity: ErpEntity; type?: string; data: Record<string, unknown> | Record<string, unknown>[] };
}

export type ErpWebhookEvent =
  | { eventId: string; type: string; ignored: true; deliveries: [] }
  | { eventId: string; type?: string; ignored: false; deliveries: EntityDelivery[] };

/** A body the envelope cannot read: each problem at its path in the body. */
export class ErpEnvelopeError extends Error {
  override readonly name = 'ErpEnvelopeError';
  constructor(
    message: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(message);
  }
}

const platformEvent = z.strictObject({
  id: z.string().min(1).max(MAX_EVENT_ID_CHARS),
  entity,
  data: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown())).max(MAX_EVENT_RECORDS)]),
});
const records = platformEvent.shape.data;

/** Reads a verified, parsed event as the envelope says; throws ErpEnvelopeError for a body it cannot read. */
export function readErpWebhookEvent(envelope: ErpWebhookEnvelope | undefined, raw: Buffer, body: unknown): ErpWebhookEvent {
  if (!envelope) {
    const event = platformEvent.safeParse(body);
    if (!event.success) throw new ErpEnvelopeError('not an ERP event', event.error.issues.map((i) => ({ path: ['body', ...i.path].join('.'), message: i.message })));
    const { id, entity: e, data } = event.data;
    return { eventId: id, ignored: false, deliveries: [{ entity: e, inboxId: id, payload: { id, entity: e, data } }] };
  }
  const refuse = (at: string | undefined, message: string) => {
    const where = at ? `body.${at}` : 'body';
    return new ErpEnvelopeError(`not an ERP event: ${where} ${message}`, [{ path: where, message }]);
  };
  const idValue = envelope.eventId === undefined ? `sha256:${createHash('sha256').update(raw).digest('hex')}` : readPath(body, envelope.eventId);
  const eventId = typeof idValue === 'number' && Number.isSafeInteger(idValue) ? String(idValue) : idValue;
  if (typeof eventId !== 'string' || eventId === '' || eventId.length > MAX_EVENT_ID_CHARS) {
    throw refuse(envelope.eventId, `is not an event id (a string or integer of 1 to ${MAX_EVENT_ID_CHARS} characters)`);
  }
  const type = readPath(body, envelope.type);
  if (typeof type !== 'string' || type === '') throw refuse(envelope.type, 'is not an event type (a non-empty string)');
  const target = Object.hasOwn(envelope.entities, type) ? envelope.entities[type]! : undefined;
  if (target === undefined) return { eventId, type, ignored: true, deliveries: [] };
  const entities = targetEntities(target);
  const recordsAt = (typeof target === 'object' && !Array.isArray(target) ? target.records : undefined) ?? envelope.records;
  const found = records.safeParse(recordsAt === undefined ? body : readPath(body, recordsAt));
  if (!found.success) {
    throw refuse(recordsAt, `is not a record (an object) or a list of at most ${MAX_EVENT_RECORDS} records`);
  }
  const unique = [...new Set(entities)];
  return {
    eventId,
    type,
    ignored: false,
    deliveries: unique.map((e) => ({
      entity: e,
      inboxId: unique.length === 1 ? eventId : `${eventId}#${e}`,
      payload: { id: eventId, entity: e, type, data: found.data },
    })),
  };
}

/** An envelope may only feed mapped entities: an event for an unmapped one could never be applied. */
export function requireMappingsForEnvelope(webhook: ErpWebhook | undefined, mappings: Record<string, unknown>): void {
  const problems = Object.entries(webhook?.envelope?.entities ?? {}).flatMap(([type, target]) =>
    targetEntities(target)
      .filter((e) => mappings[e] === undefined)
      .map((e) => ({ path: `connector.webhook.envelope.entities.${type}`, message: `'${type}' feeds ${e}, which has no mapping` })),
  );
  if (problems.length > 0) throw new IntegrationInvalidError(() => 'webhook event types feed unmapped entities', problems);
}
