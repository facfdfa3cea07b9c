import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { newId } from '../../db/ids.js';
import { connections, payments, paymentAttempts, webhookEvents } from '../../db/schema.js';
import { WebhookSignatureError, type GatewayWebhookEvent } from '../../providers/types.js';
import { gatewayCallbackSignal } from '../../shared/payment-messages.js';
import { workflowId } from '../../shared/workflow-ids.js';
import type { AppDeps } from '../app.js';
import type { ResourceRouter } from '../endpoint.js';
import { ApiError } from '../errors.js';

const params = z.object({ connectionId: z.string().min(1) });
const ackOut = z.object({
  received: z.literal(true),
  eventId: z.string(),
  duplicate: z.boolean(),
  paymentId: z.string().nullable(),
});

/**
 * Gateway callbacks: verify the signature over the raw body, store the event in the inbox (unique per
 * connection and event id), signal the payment workflow, acknowledge. A redelivered event that was
 * already signalled is acknowledged without a second signal; one whose signal failed is signalled again.
 */
export function webhooksRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  async function findPaymentId(tenantId: string, connectionId: string, event: GatewayWebhookEvent): Promise<string | null> {
    if (event.paymentId) {
      const [p] = await db.select({ id: payments.id }).from(payments).where(and(eq(payments.id, event.paymentId), eq(payments.tenantId, tenantId)));
      if (p) return p.id;
    }
    if (event.reference) {
      const [a] = await db
        .select({ paymentId: paymentAttempts.paymentId })
        .from(paymentAttempts)
        .where(and(eq(paymentAttempts.connectionId, connectionId), eq(paymentAttempts.gatewayReference, event.reference)));
      if (a) return a.paymentId;
    }
    return null;
  }

  return r.endpoint(
    'post',
    '/v1/webhooks/:connectionId',
    {
      summary: "Receive a gateway's asynchronous notification",
      description:
        'Point the gateway at this URL. The signature is verified over the raw body with the scheme of the ' +
        "connection's provider (Stripe-Signature for Stripe; the rule in a declarative provider's file).",
      security: 'none',
      rawBody: true,
      params,
      responses: { 200: { description: 'Stored and delivered', schema: ackOut } },
    },
    async ({ params: { connectionId }, req, res }) => {
      const [conn] = await db.select().from(connections).where(eq(connections.id, connectionId));
      if (!conn) throw ApiError.notFound('connection', connectionId);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let event: GatewayWebhookEvent;
      try {
        // Verifying needs the webhook secret, so the API decrypts this connection's credentials here.
        const gateway = await deps.providers.client(conn, () =>
          deps.cipher.open({ keyId: conn.credentialsKeyId, ciphertext: conn.credentialsCiphertext }, conn.tenantId, conn.id),
        );
        event = gateway.parseWebhook(raw, req.headers);
      } catch (err) {
        if (err instanceof WebhookSignatureError) throw new ApiError(400, 'webhook_signature_invalid', err.message);
        throw err;
      }

      const paymentId = await findPaymentId(conn.tenantId, conn.id, event);
      const [inserted] = await db
        .insert(webhookEvents)
        .values({
          id: newId('whe'),
          tenantId: conn.tenantId,
          connectionId: conn.id,
          eventId: event.eventId,
          type: event.type,
          paymentId,
          payload: JSON.parse(raw.toString('utf8') || 'null') as unknown,
        })
        .onConflictDoNothing()
        .returning({ id: webhookEvents.id });
      const [stored] = inserted
        ? [{ signalledAt: null }]
        : await db
            .select({ signalledAt: webhookEvents.signalledAt })
            .from(webhookEvents)
            .where(and(eq(webhookEvents.connectionId, conn.id), eq(webhookEvents.eventId, event.eventId)));
      const duplicate = !inserted;

      if (paymentId && event.status && !stored?.signalledAt) {
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
        await db
          .update(webhookEvents)
          .set({ signalledAt: new Date() })
          .where(and(eq(webhookEvents.connectionId, conn.id), eq(webhookEvents.eventId, event.eventId), isNull(webhookEvents.signalledAt)));
      }
      res.json({ received: true, eventId: event.eventId, duplicate, paymentId });
    },
  );
}
