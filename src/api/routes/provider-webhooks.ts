import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { WebhookPayloadError, WebhookSignatureError, type GatewayWebhookEvent } from '../../providers/types.js';
import { gatewayCallbackSignal } from '../../shared/payment-messages.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { markGatewayEventSignalled, storeGatewayEvent, webhookConnection } from '../../stores/payments/gateway-webhook-store.js';
import { connectionCredentials } from '../../stores/platform/connection-store.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter } from '../endpoint.js';
import { deliverCustomerEvent } from './customers/customer-webhooks.js';
import { ApiError, requireCredentialsKey } from '../errors.js';
import { webhooksReceived } from '../../metrics/api-metrics.js';
import { providerLabel } from '../../metrics/provider-label.js';
import { clientAddress, type RateLimiter } from '../rate-limit.js';
import { parseJsonBytes } from '../input-guards.js';

const params = z.object({ connectionId: z.string().min(1) });
const ackOut = z.object({
  received: z.literal(true),
  eventId: z.string(),
  duplicate: z.boolean(),
  paymentId: z.string().nullable(),
}).meta({
  id: 'GatewayWebhookAck',
  examples: [{ received: true, eventId: 'evt_1QhYk2LkdIwHu7ix4cT9aB2c', duplicate: false, paymentId: 'pay_3kq9x7m2v8t4n6p0r5wz' }],
});

/** The verified body as stored in the inbox (jsonb): UTF-8 JSON without NUL characters or absurd nesting. */
function parseStoredPayload(raw: Buffer): unknown {
  return parseJsonBytes(raw.length > 0 ? raw : Buffer.from('null'), { notJson: 'webhook_payload_invalid', invalid: 'webhook_payload_invalid' });
}

/**
 * Gateway callbacks: verify the signature over the raw body, store the event in the inbox (unique per
 * connection and event id), signal the payment workflow, acknowledge. A redelivered event that was
 * already signalled is acknowledged without a second signal; one whose signal failed is signalled again.
 *
 * Rate limits are counted after verification: a verified callback counts in its connection's own
 * bucket (another tenant's flood, or junk from the same address, cannot starve it); anything that
 * fails to verify counts against the sender's address.
 */
export function webhooksRouter(deps: AppDeps & { limiter: RateLimiter }, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  return r.endpoint(
    'post',
    '/v1/webhooks/:connectionId',
    {
      operationId: 'receiveGatewayWebhook',
      summary: "Receive a gateway's asynchronous notification",
      description:
        'Point the gateway at this URL. The signature is verified over the raw body with the scheme of the ' +
        "connection's provider (Stripe-Signature for Stripe; the rule in a declarative provider's file).",
      security: 'none',
      rateLimit: false,
      rawBody: true,
      params,
      responses: { 200: { description: 'Stored and delivered', schema: ackOut } },
    },
    async ({ params: { connectionId }, req, res }) => {
      const conn = await webhookConnection(db, connectionId);
      if (!conn) {
        await deps.limiter.consume('ip', clientAddress(req), res);
        throw ApiError.notFound('connection', connectionId);
      }
      requireCredentialsKey(deps.cipher, conn);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let event: GatewayWebhookEvent;
      try {
        // Verifying needs the webhook secret, so the API decrypts this connection's credentials here.
        // The client (every provider's has the webhook part) is cached for the worker too (one
        // process in development): it gets the store.
        const credentials = connectionCredentials(db, deps.cipher, conn);
        const client = await deps.providers.client(conn, credentials.open, credentials.store);
        event = client.parseWebhook(raw, req.headers);
      } catch (err) {
        if (err instanceof WebhookSignatureError) {
          await deps.limiter.consume('ip', clientAddress(req), res);
          webhooksReceived.inc({ provider: providerLabel(conn.provider, deps.providers), outcome: 'signature_invalid' });
          throw new ApiError(400, 'webhook_signature_invalid', err.message);
        }
        // A 4xx, not a 5xx: the gateway would redeliver a malformed event forever.
        if (err instanceof WebhookPayloadError) throw new ApiError(400, 'webhook_payload_invalid', err.message);
        throw err;
      }
      await deps.limiter.consume('webhook', conn.id, res);
      const payload = parseStoredPayload(raw);
      if (typeof event.eventId !== 'string' || event.eventId === '' || event.eventId.length > 255) {
        throw new ApiError(400, 'webhook_payload_invalid', 'the event id must be a non-empty string of at most 255 characters');
      }

      // A redelivery finds the stored event: which payment it was about and whether it was signalled.
      const stored = await storeGatewayEvent(db, conn, event, payload);
      const { paymentId, duplicate } = stored;

      let signalled = false;
      if (paymentId && event.status && !stored.signalled) {
        try {
          await deps.temporal.workflow.getHandle(workflowId.payment(paymentId)).signal(gatewayCallbackSignal, {
            eventId: event.eventId,
            connectionId: conn.id,
            ...(event.reference ? { reference: event.reference } : {}),
            status: event.status,
          });
        } catch (err) {
          // A finished payment needs no callback; anything else: answer 5xx so the gateway redelivers.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        signalled = true;
      }
      webhooksReceived.inc({ provider: providerLabel(conn.provider, deps.providers), outcome: duplicate ? 'duplicate' : 'stored' });
      // Customer events go to the customer's sync workflow (a failure answers 5xx: the provider redelivers).
      if (!stored.signalled && (await deliverCustomerEvent(deps, conn, payload, event.eventId))) signalled = true;
      res.json({ received: true, eventId: event.eventId, duplicate, paymentId });
      // The event is stored and delivered: the answer need not wait for the mark, which only spares a
      // redelivery its second signal (a second signal of the same event changes nothing either way).
      if (signalled) await markGatewayEventSignalled(db, conn.id, event.eventId).catch((err: unknown) => deps.logger.warn('could not mark a webhook event signalled', { eventId: event.eventId, error: String(err) }));
    },
  );
}
