/**
 * ERP webhooks: POST /v1/integrations/:id/webhooks. The signature is checked over the raw body before
 * anything is parsed, as the connector's `webhook.signature` says or, without one, the platform scheme
 * `X-Webhook-Signature: sha256=<hex HMAC-SHA256(webhookSecret, "<timestamp>.<body>")>` with
 * `X-Webhook-Timestamp` (ISO 8601 or Unix seconds) within 5 minutes. The envelope (the connector's, or
 * `{id, entity, data}`) names the event and the entities it feeds; each entity's share goes into the
 * inbox once per id and is acknowledged; ErpWebhookWorkflow (one per inbox row) applies it with that
 * entity's mapping through the same path as polling, retried until the database takes it.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ERP_ENTITIES } from '../../../domain/erp/entities.js';
import { ErpEnvelopeError, erpWebhookSignature, readErpWebhookEvent, type EntityDelivery, type ErpWebhookEvent } from '../../../providers/erp/webhook-envelope.js';
import { connectorOf, findIntegrationById, mappingOf, openIntegrationCredentials, type IntegrationRow } from '../../../stores/erp/integration-store.js';
import { webhookRunId } from '../../../stores/erp/run-store.js';
import { receiveWebhookEvent } from '../../../stores/erp/webhook-event-store.js';
import type { ErpWebhookInput, ErpWebhookResult } from '../../../shared/erp-messages.js';
import { integrationSearchAttributes } from '../../../shared/search-attributes.js';
import { workflowId } from '../../../shared/workflow-ids.js';
import { resultWithin } from '../../await-workflow.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { verifyErpWebhook } from '../../erp-webhook-signature.js';
import { ApiError } from '../../errors.js';
import { parseJsonBytes } from '../../input-guards.js';
import { clientAddress, type RateLimiter } from '../../rate-limit.js';
import { startWorkflow } from '../../../temporal/start-workflow.js';
import { tenantPriority } from '../../../shared/fairness.js';

/** Counts summed over an event's entities; null until every one is known. */
function sumCounts(all: (ErpWebhookResult['counts'] | null)[]): ErpWebhookResult['counts'] | null {
  const sum = { read: 0, valid: 0, invalid: 0, upserted: 0, unchanged: 0 };
  for (const counts of all) {
    if (!counts) return null;
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += counts[key];
  }
  return all.length > 0 ? sum : null;
}

/** How long the answer waits for the apply, so a quick one carries its counts; a slower one answers 202. */
const APPLY_WAIT_MS = 5_000;

const countsOut = z.object({ read: z.number(), valid: z.number(), invalid: z.number(), upserted: z.number(), unchanged: z.number() });
const entityAckOut = z.object({
  entity: z.enum(ERP_ENTITIES),
  duplicate: z.boolean(),
  runId: z.string(),
  workflowId: z.string().meta({ description: "The ErpWebhookWorkflow that applies this entity's share of the event." }),
  applied: z.boolean(),
  counts: countsOut.nullable(),
});
const ackOut = z.object({
  received: z.literal(true),
  eventId: z.string(),
  duplicate: z.boolean().meta({ description: 'Every entity of the event was stored before.' }),
  runId: z.string().nullable().meta({ description: 'The run of an event that feeds one entity; null when it feeds several (see entities) or none.' }),
  workflowId: z.string().nullable().meta({ description: 'The ErpWebhookWorkflow that applies an event that feeds one entity; null when it feeds several or none.' }),
  applied: z.boolean().meta({ description: 'false: stored and acknowledged, still being applied (HTTP 202).' }),
  counts: countsOut.nullable().meta({ description: 'Summed over the entities, once every one is applied.' }),
  ignored: z.boolean().meta({ description: "true: an event type the connector's envelope does not map, acknowledged and not stored." }),
  entities: z.array(entityAckOut).meta({ description: 'One entry per entity the event feeds.' }),
}).meta({
  id: 'ErpWebhookAck',
  examples: [
    {
      received: true,
      eventId: 'evt-20261207-0042',
      duplicate: false,
      runId: 'erun_5d41402abc4b2a76b971',
      workflowId: 'erp-webhook-ewe_4q8k2m6x9v1t3n7p5r0w',
      applied: true,
      counts: { read: 1, valid: 1, invalid: 0, upserted: 1, unchanged: 0 },
      ignored: false,
      entities: [
        {
          entity: 'products',
          duplicate: false,
          runId: 'erun_5d41402abc4b2a76b971',
          workflowId: 'erp-webhook-ewe_4q8k2m6x9v1t3n7p5r0w',
          applied: true,
          counts: { read: 1, valid: 1, invalid: 0, upserted: 1, unchanged: 0 },
        },
      ],
    },
  ],
});

/**
 * Rate limits as for gateway webhooks, counted after verification: a verified delivery counts in its
 * integration's own bucket (`webhook:<integration id>`, RATE_LIMIT_PER_WEBHOOK_CONNECTION), so neither
 * junk from the same address nor another tenant's ERP behind the same egress can starve it; one that
 * fails verification or names no webhook integration counts against the sender's address.
 */
export function erpWebhooksRouter(deps: AppDeps & { limiter: RateLimiter }, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  /** An unverified delivery: counted against the sender's address (a 429 once over), then refused. */
  const refuseUnverified = async (req: Request, res: Response, err: ApiError): Promise<never> => {
    await deps.limiter.consume('ip', clientAddress(req), res);
    throw err;
  };
  /**
   * Stores one entity's share of the event in the inbox (once per inbox id) and starts its workflow
   * unless it was applied before; `outcome` is the apply's result within APPLY_WAIT_MS, else null.
   */
  const store = async (integration: IntegrationRow, delivery: EntityDelivery) => {
    const inbox = await receiveWebhookEvent(db, integration, { id: delivery.inboxId, entity: delivery.entity, payload: delivery.payload });
    if (!inbox) throw new ApiError(409, 'conflict', 'the event was removed while it was received; send it again');
    const { duplicate } = inbox;
    const wfId = workflowId.erpWebhook(inbox.id);
    const ack = { entity: delivery.entity, duplicate, runId: webhookRunId(inbox.id), workflowId: wfId, applied: false };
    if (duplicate && inbox.processedAt) return { ack: { ...ack, applied: true }, outcome: Promise.resolve(null) };
    // New, or stored before but not applied yet (an earlier answer may have been lost before the
    // start): start its workflow; one already going for this event is found by its id.
    const input: ErpWebhookInput = { tenantId: integration.tenantId, integrationId: integration.id, inboxId: inbox.id };
    let handle = deps.temporal.workflow.getHandle(wfId);
    try {
      handle = await startWorkflow(deps.temporal, 'erpWebhookWorkflow', {
        taskQueue: deps.taskQueues.erp,
        workflowId: wfId,
        args: [input],
        typedSearchAttributes: integrationSearchAttributes(integration.tenantId, integration.id),
        priority: tenantPriority(integration.tenantId),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const outcome = duplicate ? Promise.resolve(null) : resultWithin<ErpWebhookResult>(handle, APPLY_WAIT_MS).catch(() => null);
    return { ack, outcome };
  };
  return r.endpoint(
    'post',
    '/v1/integrations/:id/webhooks',
    {
      operationId: 'receiveErpWebhook',
      summary: "Receive an ERP's change notification (HMAC signed)",
      description:
        'Body: {"id": event id, "entity": "products"|…, "data": record or list}, or the envelope the connector declares (connector.webhook.envelope); event types it does not map are acknowledged with ignored: true. Signed as described in docs/erp-integrations.md.',
      security: 'none',
      rateLimit: false,
      rawBody: true,
      params: z.object({ id: z.string().min(1) }),
      responses: {
        200: { description: 'Stored and applied (or a duplicate of an applied event, or an ignored event type)', schema: ackOut },
        202: { description: 'Stored and acknowledged; the apply is still going', schema: ackOut },
      },
    },
    async ({ params, req, res }) => {
      const integration = await findIntegrationById(db, params.id);
      if (!integration || integration.type === 'polling') return refuseUnverified(req, res, ApiError.notFound('integration', params.id));
      const { webhook } = connectorOf(integration);
      const credentials = openIntegrationCredentials(deps.cipher, integration);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      try {
        verifyErpWebhook(erpWebhookSignature(webhook), credentials, raw, req.headers, Date.now());
      } catch (err) {
        if (err instanceof ApiError) return refuseUnverified(req, res, err);
        throw err;
      }
      await deps.limiter.consume('webhook', integration.id, res);
      const parsed = parseJsonBytes(raw, { notJson: 'invalid_json', invalid: 'validation_failed' });
      let event: ErpWebhookEvent;
      try {
        event = readErpWebhookEvent(webhook?.envelope, raw, parsed);
      } catch (err) {
        if (err instanceof ErpEnvelopeError) throw new ApiError(400, 'validation_failed', err.message, err.problems);
        throw err;
      }
      for (const { entity } of event.deliveries) {
        if (!mappingOf(integration, entity)) {
          throw new ApiError(400, 'validation_failed', `integration has no mapping for ${entity}`, [{ path: 'body.entity', message: 'not mapped' }]);
        }
      }
      const acks = [];
      for (const delivery of event.deliveries) acks.push(await store(integration, delivery));
      const outcomes = await Promise.all(acks.map((a) => a.outcome));
      const entities = acks.map((a, i) => ({ ...a.ack, applied: a.ack.applied || outcomes[i] !== null, counts: outcomes[i]?.counts ?? null }));
      const one = entities.length === 1 ? entities[0]! : undefined;
      const applied = entities.every((e) => e.applied);
      res.status(applied ? 200 : 202).json({
        received: true,
        eventId: event.eventId,
        duplicate: entities.length > 0 && entities.every((e) => e.duplicate),
        runId: one?.runId ?? null,
        workflowId: one?.workflowId ?? null,
        applied: !event.ignored && applied,
        counts: one ? one.counts : sumCounts(entities.map((e) => e.counts)),
        ignored: event.ignored,
        entities,
      });
    },
  );
}
