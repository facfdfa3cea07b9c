import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { payments } from '../../db/schema.js';

/**
 * The currency of the payment a capture or refund belongs to, for callers that do not pass it: by
 * payment id when known, else by the gateway transaction (connection + reference). Gateways need it
 * to convert the amount to their own units.
 */
export async function paymentCurrency(
  db: Db,
  by: { tenantId: string; paymentId?: string; connectionId: string; reference: string },
): Promise<string> {
  const where = by.paymentId
    ? and(eq(payments.id, by.paymentId), eq(payments.tenantId, by.tenantId))
    : and(
        eq(payments.connectionId, by.connectionId),
        eq(payments.gatewayReference, by.reference),
        eq(payments.tenantId, by.tenantId),
      );
  const [row] = await db.select({ currency: payments.currency }).from(payments).where(where).limit(1);
  if (!row) {
    throw ApplicationFailure.nonRetryable(
      `no payment for ${by.paymentId ?? `gateway reference ${by.reference}`}`,
      'PaymentNotFound',
    );
  }
  return row.currency;
}
