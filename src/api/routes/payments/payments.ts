import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { tableRowOf } from '../../../db/client.js';
import { newId } from '../../../db/ids.js';
import { payments, paymentAttempts, refunds } from '../../../db/schema.js';
import { containsCardNumber } from '../../../domain/payments/payment-method.js';
import { PAYMENT_STATUSES } from '../../../domain/payments/payment-status.js';
import { PAYMENT_METHOD_TYPES } from '../../../domain/payments/routing.js';
import { UNIFIED_DECLINE_CODES } from '../../../domain/payments/decline-codes.js';
import {
  AftercareFailure,
  capturePaymentUpdate,
  PAYMENT_UPDATE_IDS,
  paymentOutcomeUpdate,
  refundPaymentUpdate,
  type CaptureOutcome,
  type PaymentWorkflowInput,
} from '../../../shared/payment-messages.js';
import { PaymentStatusAttr, TenantIdAttr } from '../../../shared/search-attributes.js';
import { workflowId } from '../../../shared/workflow-ids.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { resultWithin } from '../../await-workflow.js';
import { amountInMinorUnits, countryCode, currencyCode, decodeTimeCursor, encodeTimeCursor, pageCursor } from '../../common-schemas.js';
import { ApiError } from '../../errors.js';
import { PAYMENT_EXAMPLE, REFUND_EXAMPLE } from './payment-examples.js';
import { claimAndInsert, claimIdempotencyKey, idempotencyKeySchema, requestHash, requireIdempotencyKey, storeIdempotentResponse } from '../../idempotency.js';
import { startWorkflow } from '../../../temporal/start-workflow.js';
import type { Workflows } from '../../../shared/workflow-types.js';
import { tenantPriority } from '../../../shared/fairness.js';

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

const IN_FLIGHT: ReadonlySet<string> = new Set(['pending', 'processing', 'unknown']);
const hasOutcome = (p: { status: string }) => !IN_FLIGHT.has(p.status);

const idempotencyHeader = [
  {
    name: 'Idempotency-Key',
    required: true,
    description: 'Unique per logical request; a retry with the same key and body replays the first response',
    schema: idempotencyKeySchema,
  },
];

/**
 * A payment, refund or capture id runs its workflow once, ever: a retried or replayed request finds
 * the running run (USE_EXISTING) or is refused after it closed (REJECT_DUPLICATE), so money never
 * moves from a second run.
 */
const ONE_RUN_PER_ID = { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'USE_EXISTING' } as const;

/** How long a refund request waits for the payment's run to take the refund (its child has started). */
const REFUND_HANDOVER_MS = 10_000;

/** Starts a workflow unless its id already has (or had) a run. */
async function startOnce(start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * How the payment's own run answered a refund or capture update: done there, refused (a 409 naming
 * why), or not taken because the run is closed or takes no aftercare (older run, window over): then
 * the standalone workflow does it.
 */
type AftercareAnswer<T> = { kind: 'done'; value: T } | { kind: 'refused'; message: string } | { kind: 'closed' };

async function throughPaymentRun<T>(send: () => Promise<T>): Promise<AftercareAnswer<T>> {
  try {
    return { kind: 'done', value: await send() };
  } catch (err) {
    // A closed run: the server says "not found" (completed) for an update to it.
    if (err instanceof WorkflowNotFoundError) return { kind: 'closed' };
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === AftercareFailure.Refused) return { kind: 'refused', message: cause.message };
    if (cause instanceof ApplicationFailure && cause.type === AftercareFailure.Closed) return { kind: 'closed' };
    throw err;
  }
}

/** Runs `fn` (Temporal calls) for at most `ms`: the calls are cancelled then, and null is returned. */
async function within<T>(client: AppDeps['temporal'], ms: number, fn: () => Promise<T>): Promise<T | null> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  try {
    return await client.withAbortSignal(ctrl.signal, fn);
  } catch (err) {
    if (ctrl.signal.aborted && (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isCancelled(err))) return null;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function isCancelled(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 1; // gRPC CANCELLED
}

type PaymentRow = typeof payments.$inferSelect;
type AttemptRow = typeof paymentAttempts.$inferSelect;
type RefundRow = typeof refunds.$inferSelect;

/** A payment as the API shows it, from its row, its attempts and its refunds (in order). */
function toPaymentOut(p: PaymentRow, attempts: AttemptRow[], refundRows: RefundRow[]): PaymentOut {
  return {
    id: p.id,
    object: 'payment' as const,
    status: p.status as PaymentOut['status'],
    amount: p.amount,
    currency: p.currency,
    country: p.country,
    paymentMethod: { type: p.paymentMethodType, token: p.paymentMethodToken },
    captureMode: p.captureMode,
    customerId: p.customerId,
    description: p.description,
    metadata: p.metadata,
    amountCaptured: p.amountCaptured,
    amountRefunded: p.amountRefunded,
    connectionId: p.connectionId,
    gatewayReference: p.gatewayReference,
    failure: p.failureCode || p.failureMessage ? { code: p.failureCode, message: p.failureMessage } : null,
    routing: p.routing ?? null,
    attempts: attempts.map((a) => ({
      number: a.attemptNumber,
      connectionId: a.connectionId,
      provider: a.provider,
      reason: a.reason,
      status: a.status,
      errorClass: a.errorClass as PaymentOut['attempts'][number]['errorClass'],
      errorCode: a.errorCode,
      unifiedCode: a.unifiedCode as PaymentOut['attempts'][number]['unifiedCode'],
      errorMessage: a.errorMessage,
      gatewayReference: a.gatewayReference,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
    })),
    refunds: refundRows.map((x) => ({
      id: x.id,
      object: 'refund' as const,
      paymentId: x.paymentId,
      amount: x.amount,
      status: x.status,
      reason: x.reason,
      failureMessage: x.failureMessage,
      createdAt: x.createdAt.toISOString(),
    })),
    workflowId: workflowId.payment(p.id),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export function paymentsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  async function load(tenantId: string, ids: string[]): Promise<PaymentOut[]> {
    if (ids.length === 0) return [];
    // Three reads of one snapshot (attempts and refunds of another tenant's ids are dropped below: only
    // rows of this tenant's payments are kept). One snapshot, not three reads side by side on the pool:
    // an outcome written between them showed a payment `succeeded` beside its attempt still `unknown`.
    const [rows, attempts, refundRows] = await db.transaction(
      async (tx) => [
        await tx.select().from(payments).where(and(eq(payments.tenantId, tenantId), inArray(payments.id, ids))),
        await tx.select().from(paymentAttempts).where(inArray(paymentAttempts.paymentId, ids)).orderBy(asc(paymentAttempts.attemptNumber)),
        await tx.select().from(refunds).where(inArray(refunds.paymentId, ids)).orderBy(asc(refunds.createdAt)),
      ] as const,
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
    const byId = new Map<string, PaymentOut>(
      rows.map((p) => [
        p.id,
        toPaymentOut(
          p,
          attempts.filter((a) => a.paymentId === p.id),
          refundRows.filter((x) => x.paymentId === p.id),
        ),
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((p): p is PaymentOut => p !== undefined);
  }

  async function loadOne(tenantId: string, id: string): Promise<PaymentOut> {
    const [p] = await load(tenantId, [id]);
    if (!p) throw ApiError.notFound('payment', id);
    return p;
  }

  const paymentStart = (input: PaymentWorkflowInput) => ({
    taskQueue: deps.taskQueues.payments,
    workflowId: workflowId.payment(input.paymentId),
    args: [input] as [PaymentWorkflowInput],
    ...ONE_RUN_PER_ID,
    typedSearchAttributes: [
      { key: TenantIdAttr, value: input.tenantId },
      { key: PaymentStatusAttr, value: 'pending' },
    ],
    priority: tenantPriority(input.tenantId),
  });

  async function startPaymentWorkflow(input: PaymentWorkflowInput): Promise<void> {
    // A concurrent or retried request with the same idempotency key may have started it already.
    await startOnce(() => startWorkflow(deps.temporal, 'paymentWorkflow', paymentStart(input)));
  }

  /**
   * Starts the payment's run if needed and waits, at most `seconds`, for its outcome: an
   * Update-with-Start on the run itself (no polling of the database). Every request for one payment
   * (the first and its concurrent duplicates) uses the same update id, so they all wait on one update.
   */
  async function startAndAwaitOutcome(input: PaymentWorkflowInput, seconds: number): Promise<void> {
    const answered = await within(deps.temporal, seconds * 1000, async () => {
      try {
        await deps.temporal.workflow.executeUpdateWithStart(paymentOutcomeUpdate, {
          updateId: PAYMENT_UPDATE_IDS.outcome,
          startWorkflowOperation: new WithStartWorkflowOperation<Workflows['paymentWorkflow']>('paymentWorkflow', paymentStart(input)),
        });
      } catch (err) {
        // The run closed already (it had its outcome, and its aftercare window is over): the row has it.
        if (err instanceof WorkflowExecutionAlreadyStartedError || err instanceof WorkflowNotFoundError) return true;
        // A run that cannot answer (terminated, or served by a worker still on code without the
        // outcome update during a rolling deploy): the answer is the row as it is.
        if (err instanceof WorkflowUpdateFailedError) return true;
        throw err;
      }
      return true;
    });
    // Timed out: the run was very likely started, but a start cancelled on the wire is made sure of.
    if (answered === null) await startPaymentWorkflow(input);
  }

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
        const paymentId = newId('pay');
        const m = body.paymentMethod;
        // The claim and the payment in one statement (one commit); the row comes back as written.
        const claim = await claimAndInsert<Record<string, unknown>>(
          db,
          { ...scope, hash: requestHash(body), resourceId: paymentId },
          sql`insert into ${payments} (id, tenant_id, amount, currency, country, payment_method_type, payment_method_token, capture_mode, customer_id, description, metadata)
            select resource_id, ${tenant.id}, ${body.amount}, ${body.currency}, ${body.country}, ${m.type}, ${m.token}, ${body.captureMode},
              ${body.customerId ?? null}, ${body.description ?? null}, ${JSON.stringify(body.metadata)}::jsonb
            from claimed
            returning *`,
        );
        if (claim.kind === 'replay' && claim.status !== null) {
          res.setHeader('Idempotent-Replayed', 'true');
          return void res.status(claim.status).json(claim.body);
        }
        const input: PaymentWorkflowInput = {
          paymentId: claim.resourceId,
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
        if (query.wait) await startAndAwaitOutcome(input, query.wait);
        else await startPaymentWorkflow(input);
        if (claim.kind === 'replay') {
          // A concurrent duplicate waited on the same outcome update as the first request.
          res.setHeader('Idempotent-Replayed', 'true');
          const replayed = await loadOne(tenant.id, claim.resourceId);
          return void res.status(query.wait && hasOutcome(replayed) ? 200 : 202).json(replayed);
        }
        // Without wait the answer is the payment as it was written (its run has just been started); with
        // wait, as the outcome left it.
        const payment = query.wait ? await loadOne(tenant.id, paymentId) : toPaymentOut(tableRowOf(payments, claim.row), [], []);
        const status = hasOutcome(payment) ? 200 : 202;
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
        responses: { 200: { description: 'A page', schema: z.object({ data: z.array(paymentOut), nextCursor: z.string().nullable() }) } },
      },
      async ({ query, tenant, res }) => {
        const after = query.cursor ? decodeTimeCursor(query.cursor) : undefined;
        const rows = await db
          .select({ id: payments.id, createdAt: payments.createdAt })
          .from(payments)
          .where(
            and(
              eq(payments.tenantId, tenant.id),
              query.status ? eq(payments.status, query.status) : undefined,
              query.connectionId ? eq(payments.connectionId, query.connectionId) : undefined,
              after
                ? or(lt(payments.createdAt, after.at), and(eq(payments.createdAt, after.at), lt(payments.id, after.id)))
                : undefined,
            ),
          )
          .orderBy(desc(payments.createdAt), desc(payments.id))
          .limit(query.limit + 1);
        const page = rows.slice(0, query.limit);
        const last = page[page.length - 1];
        res.json({
          data: await load(tenant.id, page.map((p) => p.id)),
          nextCursor: rows.length > query.limit && last ? encodeTimeCursor(last.createdAt, last.id) : null,
        });
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
        const refundId = newId('re');
        const result = await db.transaction(async (tx) => {
          const [p] = await tx.select().from(payments).where(and(eq(payments.id, params.id), eq(payments.tenantId, tenant.id))).for('update');
          if (!p) throw ApiError.notFound('payment', params.id);
          const claim = await claimIdempotencyKey(tx, { ...scope, hash: requestHash(body), resourceId: refundId });
          if (claim.kind === 'replay') return { claim, amount: 0 };
          if (!['succeeded', 'partially_refunded'].includes(p.status)) {
            throw new ApiError(409, 'conflict', `payment ${p.id} is ${p.status}; only captured payments can be refunded`);
          }
          const open = await tx.select({ amount: refunds.amount, status: refunds.status }).from(refunds).where(eq(refunds.paymentId, p.id));
          const reserved = open.filter((x) => x.status !== 'failed').reduce((sum, x) => sum + x.amount, 0);
          const refundable = p.amountCaptured - reserved;
          const amount = body.amount ?? refundable;
          if (amount <= 0 || amount > refundable) {
            throw new ApiError(409, 'conflict', `refund of ${amount} exceeds the refundable amount ${refundable} (captured ${p.amountCaptured}, already refunded or pending ${reserved})`);
          }
          await tx.insert(refunds).values({ id: refundId, paymentId: p.id, tenantId: tenant.id, amount, reason: body.reason ?? null });
          return { claim, amount };
        });
        const id = result.claim.resourceId;
        if (result.claim.kind === 'replay') res.setHeader('Idempotent-Replayed', 'true');
        const [row] = await db.select({ amount: refunds.amount, status: refunds.status }).from(refunds).where(eq(refunds.id, id));
        // The row (the reservation) is committed before the refund runs; if handing it on failed
        // (Temporal briefly down), the retried request with the same key hands it on again, so no
        // refund stays reserved for ever. Either path runs workflow `refund-<id>`, which can run once only.
        if (row?.status === 'pending') {
          const timing = deps.paymentTiming ? { timing: deps.paymentTiming } : {};
          // First the payment's own run (the refund shows in its story); the update id is the refund id.
          // Bounded: with no worker to take the update, the row stays reserved and pending, and a retry
          // with the same key (or the reconciliation sweep, which starts `refund-<id>`) hands it on.
          const answer = await throughPaymentRun(() =>
            within(deps.temporal, REFUND_HANDOVER_MS, () =>
              deps.temporal.workflow
                .getHandle(workflowId.payment(params.id))
                .executeUpdate(refundPaymentUpdate, { args: [{ refundId: id, amount: row.amount }], updateId: id }),
            ),
          );
          if (answer.kind === 'refused') {
            // The run knows better than the read model (it never should): release the reservation.
            await db
              .update(refunds)
              .set({ status: 'failed', failureMessage: answer.message, updatedAt: new Date() })
              .where(and(eq(refunds.id, id), eq(refunds.status, 'pending')));
            throw new ApiError(409, 'conflict', answer.message);
          }
          if (answer.kind === 'closed') {
            await startOnce(() =>
              startWorkflow(deps.temporal, 'refundWorkflow', {
                taskQueue: deps.taskQueues.payments,
                workflowId: workflowId.refund(id),
                args: [{ refundId: id, paymentId: params.id, tenantId: tenant.id, amount: row.amount, ...timing }],
                ...ONE_RUN_PER_ID,
                typedSearchAttributes: [{ key: TenantIdAttr, value: tenant.id }],
                priority: tenantPriority(tenant.id),
              }),
            );
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
        const p = await loadOne(tenant.id, params.id);
        if (p.status !== 'authorized') throw new ApiError(409, 'conflict', `payment ${p.id} is ${p.status}; only authorized payments can be captured`);
        const amount = body.amount ?? p.amount;
        if (amount > p.amount) throw new ApiError(409, 'conflict', `capture of ${amount} exceeds the authorized ${p.amount}`);
        // First the payment's own run (the capture shows in its story), else a standalone CaptureWorkflow.
        const answer = await throughPaymentRun(() =>
          within(deps.temporal, 30_000, () =>
            deps.temporal.workflow
              .getHandle(workflowId.payment(p.id))
              .executeUpdate(capturePaymentUpdate, { args: [{ amount }], updateId: PAYMENT_UPDATE_IDS.capture }),
          ),
        );
        if (answer.kind === 'refused') throw new ApiError(409, 'conflict', answer.message);
        let outcome: CaptureOutcome | null = answer.kind === 'done' ? answer.value : null;
        if (answer.kind === 'closed') {
          await startOnce(() =>
            startWorkflow(deps.temporal, 'captureWorkflow', {
              taskQueue: deps.taskQueues.payments,
              workflowId: workflowId.capture(p.id, 'capture'),
              args: [{ paymentId: p.id, tenantId: tenant.id, amount, ...(deps.paymentTiming ? { timing: deps.paymentTiming } : {}) }],
              ...ONE_RUN_PER_ID,
              typedSearchAttributes: [{ key: TenantIdAttr, value: tenant.id }],
              priority: tenantPriority(tenant.id),
            }),
          );
          const handle = deps.temporal.workflow.getHandle(workflowId.capture(p.id, 'capture'));
          outcome = await resultWithin<CaptureOutcome>(handle, 30_000);
        }
        if (outcome?.error) throw new ApiError(409, 'conflict', `capture failed: ${outcome.error}`);
        res.json(await loadOne(tenant.id, params.id));
      },
    );
}
