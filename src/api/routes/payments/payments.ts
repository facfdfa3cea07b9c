import { z } from 'zod';
import { containsCardNumber } from '../../../domain/payments/payment-method.js';
import { hasOutcome, PAYMENT_STATUSES } from '../../../domain/payments/payment-status.js';
import { PAYMENT_METHOD_TYPES } from '../../../domain/payments/routing.js';
import { UNIFIED_DECLINE_CODES } from '../../../domain/payments/decline-codes.js';
import type { PaymentWorkflowInput } from '../../../shared/payment-messages.js';
import {
  captureAmount,
  createPayment,
  listPayments,
  loadPayment,
  PaymentNotFoundError,
  PaymentRuleError,
  paymentView,
  type PaymentRecord,
} from '../../../stores/payments/payment-store.js';
import { releaseRefund, reserveRefund } from '../../../stores/payments/refund-store.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { amountInMinorUnits, answerPage, countryCode, currencyCode, pageCursor, pageOut } from '../../common-schemas.js';
import { ApiError } from '../../errors.js';
import { capturePayment, handRefundOn, startPaymentRun, startPaymentRunAndAwaitOutcome } from '../../payment-run-requests.js';
import { PAYMENT_EXAMPLE, REFUND_EXAMPLE } from './payment-examples.js';
import { claimAndInsert, claimIdempotencyKey, idempotencyKeySchema, requestHash, requireIdempotencyKey, storeIdempotentResponse } from '../../idempotency.js';

const createPaymentBody = z
  .strictObject({
    amount: amountInMinorUnits,
    currency: currencyCode,
    country: countryCode.meta({ description: 'ISO 3166-1 alpha-2 of the payer', examples: ['DE'] }),
    paymentMethod: z.strictObject({
      type: z.enum(PAYMENT_METHOD_TYPES),
      token: z
        .string()
        .min(1)
        .max(255)
        .meta({ description: 'A gateway token or payment-method reference (pm_..., tok_...). Never a card number.' }),
    }),
    captureMode: z.enum(['automatic', 'manual']).default('automatic'),
    customerId: z.string().min(1).max(255).optional(),
    description: z.string().max(500).optional(),
    metadata: z
      .record(z.string().max(40), z.string().max(500))
      .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys')
      .meta({ maxProperties: 50 })
      .default({}),
  })
  .meta({
    examples: [
      {
        amount: 1050,
        currency: 'EUR',
        country: 'DE',
        paymentMethod: { type: 'card', token: 'pm_card_visa' },
        captureMode: 'automatic',
        customerId: 'cust_8h2kq4m7v9x1t3n5p6rw',
        description: 'Order 1042',
        metadata: { orderId: '1042' },
      },
    ],
  });

const createQuery = z.strictObject({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(30)
    .optional()
    .meta({ description: 'Seconds (0-30) to wait for an outcome (fallbacks included) before answering; 200 if there is one, else 202' }),
});

const attemptOut = z.object({
  number: z.number().int().positive(),
  connectionId: z.string(),
  provider: z.string(),
  reason: z.string().meta({ description: 'Why routing chose this connection at this rank' }),
  status: z.string(),
  errorClass: z.enum(['hard_decline', 'retryable', 'ambiguous']).nullable(),
  errorCode: z.string().nullable(),
  unifiedCode: z
    .enum(UNIFIED_DECLINE_CODES)
    .nullable()
    .meta({ description: "errorCode in Switchyard's unified vocabulary, the same whatever the gateway" }),
  errorMessage: z.string().nullable(),
  gatewayReference: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'PaymentAttempt', description: 'One call to a gateway for a payment' });
const refundOut = z
  .object({
    id: z.string(),
    object: z.literal('refund'),
    paymentId: z.string(),
    amount: amountInMinorUnits,
    status: z.string(),
    reason: z.string().nullable(),
    failureMessage: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Refund', examples: [REFUND_EXAMPLE] });
export const paymentOut = z.object({
  id: z.string(),
  object: z.literal('payment'),
  status: z.enum(PAYMENT_STATUSES),
  amount: amountInMinorUnits,
  currency: z.string(),
  country: z.string(),
  paymentMethod: z.object({ type: z.string(), token: z.string() }),
  captureMode: z.string(),
  customerId: z.string().nullable(),
  description: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  amountCaptured: z.number().int().nonnegative(),
  amountRefunded: z.number().int().nonnegative(),
  connectionId: z.string().nullable(),
  gatewayReference: z.string().nullable(),
  failure: z.object({ code: z.string().nullable(), message: z.string().nullable() }).nullable(),
  routing: z.unknown().meta({ description: 'The routing decision: candidates in order, skipped connections, rules evaluated' }),
  attempts: z.array(attemptOut),
  refunds: z.array(refundOut),
  workflowId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'Payment', examples: [PAYMENT_EXAMPLE] });
type PaymentOut = z.infer<typeof paymentOut>;

const idParams = z.object({ id: z.string().min(1) });
const listQuery = z.strictObject({
  status: z.enum(PAYMENT_STATUSES).optional(),
  connectionId: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: pageCursor.optional(),
});
const refundBody = z
  .strictObject({
    amount: amountInMinorUnits.optional().meta({ description: 'Minor units; default: everything not yet refunded' }),
    reason: z.string().max(200).optional(),
  })
  .meta({ examples: [{ amount: 500, reason: 'requested_by_customer' }] });
const captureBody = z
  .strictObject({
    amount: amountInMinorUnits.optional().meta({ description: 'Minor units; default: the authorized amount' }),
  })
  .meta({ examples: [{ amount: 1050 }] });

const idempotencyHeader = [
  {
    name: 'Idempotency-Key',
    required: true,
    description: 'Unique per logical request; a retry with the same key and body replays the first response',
    schema: idempotencyKeySchema,
  },
];

/** A payment as the API shows it: the store's view (the data of payment events too), checked against the schema here. */
const toPaymentOut: (record: PaymentRecord) => PaymentOut = paymentView;

/** The payment store's typed errors as the API answers them: 404, or 409 with the rule's reason. */
function asApiError(err: unknown): never {
  if (err instanceof PaymentNotFoundError) throw ApiError.notFound('payment', err.paymentId);
  if (err instanceof PaymentRuleError) throw new ApiError(409, 'conflict', err.message);
  throw err;
}

export function paymentsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const loadOne = async (tenantId: string, id: string) => toPaymentOut(await loadPayment(db, tenantId, id).catch(asApiError));

  return r
    .endpoint(
      'post',
      '/v1/payments',
      {
        operationId: 'createPayment',
        summary: 'Start a payment',
        description:
          'Validates, stores the payment and starts its PaymentWorkflow (id `payment-<id>`), answering 202 at once. ' +
          'With `?wait=N` the answer waits up to N seconds for an outcome (succeeded, authorized, requires_action, failed...). ' +
          'Card numbers are refused anywhere in the body: send gateway tokens only.',
        body: createPaymentBody,
        query: createQuery,
        headers: idempotencyHeader,
        responses: {
          202: { description: 'Accepted; the payment is being processed', schema: paymentOut },
          200: { description: 'With wait: the payment has an outcome', schema: paymentOut },
        },
      },
      async ({ body, query, tenant, req, res }) => {
        const cardPath = containsCardNumber(req.body, 'body');
        if (cardPath) {
          throw new ApiError(400, 'validation_failed', 'card numbers are not accepted; send a gateway token instead', [
            { path: cardPath.replace(/^body\.?/, 'body.'), message: 'looks like a card number (PAN); never send card data' },
          ]);
        }
        const key = requireIdempotencyKey(req.get('idempotency-key'));
        const scope = { tenantId: tenant.id, scope: 'payments', key };
        // The claim and the payment in one statement (one commit); the row comes back as written.
        const created = await createPayment({ tenantId: tenant.id, ...body }, (paymentId, insert) =>
          claimAndInsert(db, { ...scope, hash: requestHash(body), resourceId: paymentId }, insert),
        );
        if (created.kind === 'replay' && created.status !== null) {
          res.setHeader('Idempotent-Replayed', 'true');
          return void res.status(created.status).json(created.body);
        }
        const paymentId = created.kind === 'new' ? created.payment.id : created.resourceId;
        const input: PaymentWorkflowInput = {
          paymentId,
          tenantId: tenant.id,
          amount: body.amount,
          currency: body.currency,
          country: body.country,
          paymentMethod: body.paymentMethod,
          captureMode: body.captureMode,
          ...(body.customerId ? { customerId: body.customerId } : {}),
          ...(body.description ? { description: body.description } : {}),
          metadata: body.metadata,
          ...(deps.paymentTiming ? { timing: deps.paymentTiming } : {}),
        };
        if (query.wait) await startPaymentRunAndAwaitOutcome(deps, input, query.wait);
        else await startPaymentRun(deps, input);
        if (created.kind === 'replay') {
          // A concurrent duplicate waited on the same outcome update as the first request.
          res.setHeader('Idempotent-Replayed', 'true');
          const replayed = await loadOne(tenant.id, paymentId);
          return void res.status(query.wait && hasOutcome(replayed.status) ? 200 : 202).json(replayed);
        }
        // Without wait the answer is the payment as it was written (its run has just been started); with
        // wait, as the outcome left it.
        const payment = query.wait ? await loadOne(tenant.id, paymentId) : toPaymentOut({ payment: created.payment, attempts: [], refunds: [] });
        const status = hasOutcome(payment.status) ? 200 : 202;
        res.status(status).json(payment);
        // A retry replays the stored answer; one that comes before it is stored (a few ms) takes the
        // replay path above and answers from the payment as it is then, so the answer need not wait.
        await storeIdempotentResponse(db, scope, status, payment).catch((err: unknown) =>
          deps.logger.warn('could not store the idempotent response; a retry answers from the payment', { paymentId, error: String(err) }),
        );
      },
    )
    .endpoint(
      'get',
      '/v1/payments/:id',
      { operationId: 'getPayment', summary: 'Get a payment with every attempt', params: idParams, responses: { 200: { description: 'The payment', schema: paymentOut } } },
      async ({ params, tenant, res }) => {
        res.json(await loadOne(tenant.id, params.id));
      },
    )
    .endpoint(
      'get',
      '/v1/payments',
      {
        operationId: 'listPayments',
        summary: 'List payments, newest first',
        query: listQuery,
        responses: { 200: { description: 'A page', schema: pageOut(paymentOut) } },
      },
      async ({ query, tenant, res }) => {
        res.json(await answerPage(listPayments(db, tenant.id, query), toPaymentOut));
      },
    )
    .endpoint(
      'post',
      '/v1/payments/:id/refunds',
      {
        operationId: 'refundPayment',
        summary: 'Refund all or part of a captured payment',
        description:
          'Never more than captured minus already refunded (pending refunds count). Carried out by a RefundWorkflow (id `refund-<id>`): ' +
          "a child of the payment's own run while that run is open (its aftercare window), else a standalone run.",
        params: idParams,
        body: refundBody,
        headers: idempotencyHeader,
        responses: { 202: { description: 'Refund accepted', schema: refundOut } },
      },
      async ({ params, body, tenant, req, res }) => {
        const key = requireIdempotencyKey(req.get('idempotency-key'));
        const scope = { tenantId: tenant.id, scope: `refunds:${params.id}`, key };
        const { claim, refund } = await reserveRefund(
          db,
          { tenantId: tenant.id, paymentId: params.id, ...body },
          (tx, refundId) => claimIdempotencyKey(tx, { ...scope, hash: requestHash(body), resourceId: refundId }),
        ).catch(asApiError);
        const id = claim.resourceId;
        if (claim.kind === 'replay') res.setHeader('Idempotent-Replayed', 'true');
        // The reservation is committed before the refund runs; if handing it on failed (Temporal briefly
        // down), the retried request with the same key hands it on again, so no refund stays reserved for ever.
        if (refund?.status === 'pending') {
          const refused = await handRefundOn(deps, { refundId: id, paymentId: params.id, tenantId: tenant.id, amount: refund.amount });
          if (refused !== null) {
            // The run knows better than the read model (it never should): release the reservation.
            await releaseRefund(db, id, refused);
            throw new ApiError(409, 'conflict', refused);
          }
        }
        const payment = await loadOne(tenant.id, params.id);
        res.status(202).json(payment.refunds.find((x) => x.id === id));
      },
    )
    .endpoint(
      'post',
      '/v1/payments/:id/capture',
      {
        operationId: 'capturePayment',
        summary: 'Capture an authorized payment (manual capture mode)',
        description:
          "Runs a CaptureWorkflow (id `capture-<payment id>-...`), as a child of the payment's own run while that run is open, " +
          'and answers with the payment once it is done (up to 30 s).',
        params: idParams,
        body: captureBody,
        responses: { 200: { description: 'The payment after the capture', schema: paymentOut } },
      },
      async ({ params, body, tenant, res }) => {
        const amount = await captureAmount(db, tenant.id, params.id, body.amount).catch(asApiError);
        const capture = await capturePayment(deps, { paymentId: params.id, tenantId: tenant.id, amount });
        if (capture.kind === 'refused') throw new ApiError(409, 'conflict', capture.message);
        if (capture.outcome?.error) throw new ApiError(409, 'conflict', `capture failed: ${capture.outcome.error}`);
        res.json(await loadOne(tenant.id, params.id));
      },
    );
}
