import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { tableRowOf, type Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { payments, paymentAttempts, refunds } from '../../db/schema.js';
import type { UnifiedDeclineCode } from '../../domain/payments/decline-codes.js';
import { decideCapture } from '../../domain/payments/capture-rules.js';
import { paymentEventFor, type PaymentEventType } from '../../domain/payments/payment-events.js';
import { canTransition, PAYMENT_STATUSES, type PaymentStatus } from '../../domain/payments/payment-status.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { recordEvent } from '../events/event-store.js';
import { keysetPage, type Page } from '../keyset-page.js';

/*
 * The payment aggregate: a payment row, its attempts and its refunds. The API reads and creates
 * payments here, the payment's run moves them forward here (with the event that says so, in the same
 * transaction); the rules (src/domain/payments) are the ones the payment's run applies.
 */

export type PaymentRow = typeof payments.$inferSelect;
export type AttemptRow = typeof paymentAttempts.$inferSelect;
export type RefundRow = typeof refunds.$inferSelect;

/** A payment with its attempts (by number) and its refunds (oldest first), read from one snapshot. */
export interface PaymentRecord {
  payment: PaymentRow;
  attempts: AttemptRow[];
  refunds: RefundRow[];
}

/** A refund as the API shows it (in its payment's `refunds`, and as the data of refund events). */
export type RefundView = {
  id: string;
  object: 'refund';
  paymentId: string;
  amount: number;
  status: string;
  reason: string | null;
  failureMessage: string | null;
  createdAt: string;
};

/** One attempt as a payment's `attempts` show it. */
export type AttemptView = {
  number: number;
  connectionId: string;
  provider: string;
  reason: string;
  status: string;
  errorClass: 'hard_decline' | 'retryable' | 'ambiguous' | null;
  errorCode: string | null;
  unifiedCode: UnifiedDeclineCode | null;
  errorMessage: string | null;
  gatewayReference: string | null;
  createdAt: string;
  updatedAt: string;
};

/**
 * A payment as the API shows it: GET /v1/payments/:id answers it and the payment's events carry it as
 * their data, so both come from {@link paymentView}.
 */
export type PaymentView = {
  id: string;
  object: 'payment';
  status: PaymentStatus;
  amount: number;
  currency: string;
  country: string;
  paymentMethod: { type: string; token: string };
  captureMode: string;
  customerId: string | null;
  description: string | null;
  metadata: Record<string, string>;
  amountCaptured: number;
  amountRefunded: number;
  connectionId: string | null;
  gatewayReference: string | null;
  failure: { code: string | null; message: string | null } | null;
  routing: unknown;
  attempts: AttemptView[];
  refunds: RefundView[];
  workflowId: string;
  createdAt: string;
  updatedAt: string;
};

export function refundView(x: RefundRow): RefundView {
  return {
    id: x.id,
    object: 'refund',
    paymentId: x.paymentId,
    amount: x.amount,
    status: x.status,
    reason: x.reason,
    failureMessage: x.failureMessage,
    createdAt: x.createdAt.toISOString(),
  };
}

/** A payment as the API shows it, from its row, its attempts and its refunds (in order). */
export function paymentView({ payment: p, attempts, refunds: refundRows }: PaymentRecord): PaymentView {
  return {
    id: p.id,
    object: 'payment',
    status: p.status as PaymentStatus,
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
      errorClass: a.errorClass as AttemptView['errorClass'],
      errorCode: a.errorCode,
      unifiedCode: a.unifiedCode as AttemptView['unifiedCode'],
      errorMessage: a.errorMessage,
      gatewayReference: a.gatewayReference,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
    })),
    refunds: refundRows.map(refundView),
    workflowId: workflowId.payment(p.id),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export class PaymentNotFoundError extends Error {
  override readonly name = 'PaymentNotFoundError';
  constructor(readonly paymentId: string) {
    super(`payment ${paymentId} not found`);
  }
}

/** A refund or capture the payment's rules refuse; the message says why (the same words the payment's run uses). */
export class PaymentRuleError extends Error {
  override readonly name = 'PaymentRuleError';
}

/** A new payment as the API takes it. */
export interface NewPayment {
  tenantId: string;
  amount: number;
  currency: string;
  country: string;
  paymentMethod: { type: string; token: string };
  captureMode: string;
  customerId?: string;
  description?: string;
  metadata: Record<string, string>;
}

/**
 * Writes a new payment (id `pay_...`) together with its idempotency claim: `claimWith` runs the
 * payment's `INSERT … SELECT … FROM claimed` behind the claim in one statement (see claimAndInsert in
 * src/api/idempotency.ts), so the payment exists exactly when the key was free. A key already claimed
 * answers the claim's replay instead.
 */
export async function createPayment<Claimed extends { kind: 'new'; row: Record<string, unknown> } | { kind: 'replay'; resourceId: string }>(
  payment: NewPayment,
  claimWith: (paymentId: string, insert: SQL) => Promise<Claimed>,
): Promise<{ kind: 'new'; payment: PaymentRow } | Exclude<Claimed, { kind: 'new' }>> {
  const m = payment.paymentMethod;
  const claim: { kind: 'new'; row: Record<string, unknown> } | { kind: 'replay'; resourceId: string } = await claimWith(
    newId('pay'),
    sql`insert into ${payments} (id, tenant_id, amount, currency, country, payment_method_type, payment_method_token, capture_mode, customer_id, description, metadata)
      select resource_id, ${payment.tenantId}, ${payment.amount}, ${payment.currency}, ${payment.country}, ${m.type}, ${m.token}, ${payment.captureMode},
        ${payment.customerId ?? null}, ${payment.description ?? null}, ${JSON.stringify(payment.metadata)}::jsonb
      from claimed
      returning *`,
  );
  return claim.kind === 'new' ? { kind: 'new', payment: tableRowOf(payments, claim.row) } : (claim as Exclude<Claimed, { kind: 'new' }>);
}

/** The tenant's payments with these ids, in the order of `ids` (ids of other tenants or of no payment are left out). */
export async function loadPayments(db: Db, tenantId: string, ids: string[]): Promise<PaymentRecord[]> {
  if (ids.length === 0) return [];
  // Three reads of one snapshot (attempts and refunds of another tenant's ids are dropped below: only
  // rows of this tenant's payments are kept). One snapshot, not three reads side by side on the pool:
  // an outcome written between them showed a payment `succeeded` beside its attempt still `unknown`.
  const [rows, attempts, refundRows] = await db.transaction(
    async (tx) =>
      [
        await tx.select().from(payments).where(and(eq(payments.tenantId, tenantId), inArray(payments.id, ids))),
        await tx.select().from(paymentAttempts).where(inArray(paymentAttempts.paymentId, ids)).orderBy(asc(paymentAttempts.attemptNumber)),
        await tx.select().from(refunds).where(inArray(refunds.paymentId, ids)).orderBy(asc(refunds.createdAt)),
      ] as const,
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  const byId = new Map<string, PaymentRecord>(
    rows.map((payment) => [
      payment.id,
      {
        payment,
        attempts: attempts.filter((a) => a.paymentId === payment.id),
        refunds: refundRows.filter((x) => x.paymentId === payment.id),
      },
    ]),
  );
  return ids.map((id) => byId.get(id)).filter((p): p is PaymentRecord => p !== undefined);
}

/** One of the tenant's payments; PaymentNotFoundError if it has none with this id. */
export async function loadPayment(db: Db, tenantId: string, id: string): Promise<PaymentRecord> {
  const [record] = await loadPayments(db, tenantId, [id]);
  if (!record) throw new PaymentNotFoundError(id);
  return record;
}

/**
 * A page of the tenant's payments, newest first, optionally by status or connection. Paged by the
 * keyset helper: the cursor names the last payment and its creation time is read back at full
 * precision (a cursor holding a millisecond time skipped payments created later in that millisecond).
 */
export async function listPayments(
  db: Db,
  tenantId: string,
  filter: { status?: PaymentStatus | undefined; connectionId?: string | undefined; cursor?: string | undefined; limit: number },
): Promise<Page<PaymentRecord>> {
  const page = await keysetPage<{ id: string }>(
    db,
    {
      table: payments,
      orderBy: [payments.createdAt, payments.id],
      order: 'desc',
      scope: eq(payments.tenantId, tenantId),
      filter: and(
        filter.status ? eq(payments.status, filter.status) : undefined,
        filter.connectionId ? eq(payments.connectionId, filter.connectionId) : undefined,
      ),
    },
    filter,
  );
  return { ...page, rows: await loadPayments(db, tenantId, page.rows.map((p) => p.id)) };
}

/**
 * The amount a capture of the tenant's payment takes (default: the authorized amount), as the capture
 * rule decides from the payment as stored; PaymentRuleError when the rule refuses it.
 */
export async function captureAmount(db: Db, tenantId: string, paymentId: string, requested?: number): Promise<number> {
  const [p] = await db
    .select({ id: payments.id, status: payments.status, amount: payments.amount })
    .from(payments)
    .where(and(eq(payments.id, paymentId), eq(payments.tenantId, tenantId)));
  if (!p) throw new PaymentNotFoundError(paymentId);
  const verdict = decideCapture({ ...p, status: p.status as PaymentStatus }, requested);
  if (!verdict.ok) throw new PaymentRuleError(verdict.reason);
  return verdict.amount;
}

/** A payment with its attempts and refunds as the transaction `tx` sees them. */
export async function readPaymentRecord(tx: Db, paymentId: string): Promise<PaymentRecord> {
  const [payment] = await tx.select().from(payments).where(eq(payments.id, paymentId));
  if (!payment) throw new PaymentNotFoundError(paymentId);
  return {
    payment,
    attempts: await tx.select().from(paymentAttempts).where(eq(paymentAttempts.paymentId, paymentId)).orderBy(asc(paymentAttempts.attemptNumber)),
    refunds: await tx.select().from(refunds).where(eq(refunds.paymentId, paymentId)).orderBy(asc(refunds.createdAt)),
  };
}

/**
 * Records a payment event inside the transaction `tx` of the change it announces, with the payment as
 * that change leaves it (what GET /v1/payments/:id answers once it commits).
 */
export async function recordPaymentEvent(tx: Db, tenantId: string, type: PaymentEventType, paymentId: string): Promise<void> {
  const data = paymentView(await readPaymentRecord(tx, paymentId));
  await recordEvent(tx, { tenantId, type, resource: { type: 'payment', id: paymentId }, data });
}

/** Payment columns a move may set besides its status. */
export type PaymentChanges = Partial<
  Pick<typeof payments.$inferInsert, 'routing' | 'connectionId' | 'gatewayReference' | 'amountCaptured' | 'failureCode' | 'failureMessage'>
>;

/** Attempt columns an outcome sets. */
export type AttemptChanges = Partial<
  Pick<typeof paymentAttempts.$inferInsert, 'status' | 'gatewayReference' | 'errorClass' | 'errorCode' | 'unifiedCode' | 'errorMessage'>
>;

/** For each status, the statuses a payment may move to it from (the status machine decides). */
const MOVES_TO = new Map<PaymentStatus, PaymentStatus[]>(
  PAYMENT_STATUSES.map((to) => [to, PAYMENT_STATUSES.filter((from) => canTransition(from, to))]),
);

/** Statuses whose arrival merchants are told about from some status (pending, processing, unknown are not). */
const ANNOUNCED = new Set(PAYMENT_STATUSES.filter((to) => PAYMENT_STATUSES.some((from) => paymentEventFor(from, to) !== null)));

/**
 * Moves a payment forward to `to` (never backwards: a move the status machine refuses keeps the
 * status and still writes `changes`), with an attempt's outcome when one is given. A move merchants
 * may be told about runs in one transaction under the payment's row lock and records its event there;
 * a re-run that finds the payment already moved (a retried activity, a late duplicate) records none,
 * so each transition has exactly one event. The rows are written on a re-run as before (an attempt
 * recorded again restarts reconciliation's clock on it). Answers the status after it.
 */
export async function advancePayment(
  db: Db,
  input: { paymentId: string; to: PaymentStatus; changes?: PaymentChanges; attempt?: { number: number; changes: AttemptChanges } },
): Promise<PaymentStatus> {
  const { paymentId, to } = input;
  const writeAttempt = async (q: Db) => {
    if (!input.attempt) return;
    await q
      .update(paymentAttempts)
      .set({ ...input.attempt.changes, updatedAt: new Date() })
      .where(and(eq(paymentAttempts.paymentId, paymentId), eq(paymentAttempts.attemptNumber, input.attempt.number)));
  };
  if (!ANNOUNCED.has(to)) {
    // No event can follow (routing's move to processing, the most frequent): one conditional update,
    // no transaction. The update locks the row, and where a concurrent update got there first,
    // Postgres re-evaluates the status expression against the row as that one left it.
    await writeAttempt(db);
    const [row] = await db
      .update(payments)
      .set({
        ...input.changes,
        status: sql`case when ${inArray(payments.status, MOVES_TO.get(to)!)} then ${to} else ${payments.status} end`,
        updatedAt: new Date(),
      })
      .where(eq(payments.id, paymentId))
      .returning({ status: payments.status });
    if (!row) throw new PaymentNotFoundError(paymentId);
    return row.status as PaymentStatus;
  }
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({ status: payments.status, tenantId: payments.tenantId })
      .from(payments)
      .where(eq(payments.id, paymentId))
      .for('update');
    if (!current) throw new PaymentNotFoundError(paymentId);
    await writeAttempt(tx);
    const from = current.status as PaymentStatus;
    const moves = from !== to && canTransition(from, to);
    await tx
      .update(payments)
      .set({ ...input.changes, status: moves ? to : from, updatedAt: new Date() })
      .where(eq(payments.id, paymentId));
    const type = moves ? paymentEventFor(from, to) : null;
    if (type) await recordPaymentEvent(tx, current.tenantId, type, paymentId);
    return moves ? to : from;
  });
}
