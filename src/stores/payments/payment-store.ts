import { and, asc, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { tableRowOf, type Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { payments, paymentAttempts, refunds } from '../../db/schema.js';
import { decideCapture } from '../../domain/payments/capture-rules.js';
import type { PaymentStatus } from '../../domain/payments/payment-status.js';

/*
 * The payment aggregate: a payment row, its attempts and its refunds. The API reads and creates
 * payments here; the rules it applies (src/domain/payments) are the ones the payment's run applies.
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

/** Where a page of payments starts: after this payment (newest first, so older than it). */
export interface PaymentPosition {
  at: Date;
  id: string;
}

/** A page of the tenant's payments, newest first, optionally by status or connection; `next` is null on the last page. */
export async function listPayments(
  db: Db,
  tenantId: string,
  filter: { status?: PaymentStatus; connectionId?: string; after?: PaymentPosition; limit: number },
): Promise<{ records: PaymentRecord[]; next: PaymentPosition | null }> {
  const { after, limit } = filter;
  const rows = await db
    .select({ id: payments.id, createdAt: payments.createdAt })
    .from(payments)
    .where(
      and(
        eq(payments.tenantId, tenantId),
        filter.status ? eq(payments.status, filter.status) : undefined,
        filter.connectionId ? eq(payments.connectionId, filter.connectionId) : undefined,
        after ? or(lt(payments.createdAt, after.at), and(eq(payments.createdAt, after.at), lt(payments.id, after.id))) : undefined,
      ),
    )
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    records: await loadPayments(db, tenantId, page.map((p) => p.id)),
    next: rows.length > limit && last ? { at: last.createdAt, id: last.id } : null,
  };
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
