/**
 * ERP webhooks: POST /v1/integrations/:id/webhooks. The signature is checked over the raw body before
 * anything is parsed: `X-Webhook-Signature: sha256=<hex HMAC-SHA256(webhookSecret, "<timestamp>.<body>")>`
 * with `X-Webhook-Timestamp` (ISO 8601 or Unix seconds) within 5 minutes. The event goes into the
 * inbox once per id and is acknowledged; ErpWebhookWorkflow (one per inbox row) applies it with the
 * integration's mappings through the same path as polling, retried until the database takes it.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ERP_ENTITIES } from '../../../domain/erp/entities.js';
import { findIntegrationById, mappingOf, openIntegrationCredentials } from '../../../stores/erp/integration-store.js';
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

/** How long the answer waits for the apply, so a quick one carries its counts; a slower one answers 202. */
const APPLY_WAIT_MS = 5_000;

const eventSchema = z.strictObject({
  id: z.string().min(1).max(200),
  entity: z.enum(ERP_ENTITIES),
  data: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown())).max(1000)]),
});
const ackOut = z.object({
  received: z.literal(true),
  eventId: z.string(),
  duplicate: z.boolean(),
  runId: z.string().nullable(),
  workflowId: z.string().meta({ description: 'The ErpWebhookWorkflow that applies this event.' }),
  applied: z.boolean().meta({ description: 'false: stored and acknowledged, still being applied (HTTP 202).' }),
  counts: z.object({ read: z.number(), valid: z.number(), invalid: z.number(), upserted: z.number(), unchanged: z.number() }).nullable(),
}).meta({
  id: 'ErpWebhookAck',
  examples: [
    {
      received: true,
      eventId: 'evt-20261207-0042',
      duplicate: false,
      runId: null,
      workflowId: 'erp-webhook-ewe_4q8k2m6x9v1t3n7p5r0w',
      applied: true,
      counts: { read: 1, valid: 1, invalid: 0, upserted: 1, unchanged: 0 },
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
  return r.endpoint(
    'post',
    '/v1/integrations/:id/webhooks',
    {
      operationId: 'receiveErpWebhook',
      summary: "Receive an ERP's change notification (HMAC-SHA256 signed)",
      description: 'Body: {"id": event id, "entity": "products"|…, "data": record or list}. Signed as described in docs/erp-integrations.md.',
      security: 'none',
      rateLimit: false,
      rawBody: true,
      params: z.object({ id: z.string().min(1) }),
      responses: {
        200: { description: 'Stored and applied (or a duplicate of an applied event)', schema: ackOut },
        202: { description: 'Stored and acknowledged; the apply is still going', schema: ackOut },
      },
    },
    async ({ params, req, res }) => {
      const integration = await findIntegrationById(db, params.id);
      if (!integration || integration.type === 'polling') return refuseUnverified(req, res, ApiError.notFound('integration', params.id));
      const secret = openIntegrationCredentials(deps.cipher, integration)['webhookSecret'];
      if (!secret) return refuseUnverified(req, res, new ApiError(401, 'webhook_signature_invalid', 'the integration has no webhookSecret credential'));
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      try {
        verifyErpWebhook(raw, { signature: req.header('x-webhook-signature'), timestamp: req.header('x-webhook-timestamp') }, secret, Date.now());
      } catch (err) {
        if (err instanceof ApiError) return refuseUnverified(req, res, err);
        throw err;
      }
      await deps.limiter.consume('webhook', integration.id, res);
      const parsed = parseJsonBytes(raw, { notJson: 'invalid_json', invalid: 'validation_failed' });
      const event = eventSchema.safeParse(parsed);
      if (!event.success) {
        throw new ApiError(400, 'validation_failed', 'not an ERP event', event.error.issues.map((i) => ({ path: ['body', ...i.path].join('.'), message: i.message })));
      }
      const mapping = mappingOf(integration, event.data.entity);
      if (!mapping) {
        throw new ApiError(400, 'validation_failed', `integration has no mapping for ${event.data.entity}`, [{ path: 'body.entity', message: 'not mapped' }]);
      }
      const inbox = await receiveWebhookEvent(db, integration, { id: event.data.id, entity: event.data.entity, payload: parsed as object });
      if (!inbox) throw new ApiError(409, 'conflict', 'the event was removed while it was received; send it again');
      const { duplicate } = inbox;
      const wfId = workflowId.erpWebhook(inbox.id);
      const runId = webhookRunId(inbox.id);
      const ack = { received: true as const, eventId: event.data.id, duplicate, runId, workflowId: wfId };
      if (duplicate && inbox.processedAt) {
        res.json({ ...ack, applied: true, counts: null });
        return;
      }
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
      const outcome = duplicate ? null : await resultWithin<ErpWebhookResult>(handle, APPLY_WAIT_MS).catch(() => null);
      res.status(outcome ? 200 : 202).json({ ...ack, applied: outcome !== null, counts: outcome?.counts ?? null });
    },
  );
}
