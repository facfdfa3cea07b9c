import { createHash } from 'node:crypto';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { rowsOf, type Db } from '../db/client.js';
import { idempotencyKeys } from '../db/schema.js';
import { ApiError } from './errors.js';

/** The Idempotency-Key header; validates the header and documents it in the OpenAPI document. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1-255 printable ASCII characters');

export function requireIdempotencyKey(header: string | undefined): string {
  if (!header) {
    throw new ApiError(400, 'idempotency_key_required', 'the Idempotency-Key header is required (a unique string per logical request, e.g. a UUID)');
  }
  if (!idempotencyKeySchema.safeParse(header).success) {
    throw new ApiError(400, 'validation_failed', 'Idempotency-Key must be 1-255 printable ASCII characters', [
      { path: 'headers.idempotency-key', message: '1-255 printable ASCII characters' },
    ]);
  }
  return header;
}

/** Stable hash of a parsed request body (key order does not matter). */
export function requestHash(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

export type Claim =
  | { kind: 'new'; resourceId: string }
  | { kind: 'replay'; resourceId: string; status: number | null; body: unknown };

export interface ClaimRequest {
  tenantId: string;
  scope: string;
  key: string;
  hash: string;
  resourceId: string;
}

/**
 * Claims an idempotency key for a resource inside the caller's transaction. Concurrent claims of one
 * key serialize on the primary key: exactly one wins, the others see its row once it commits.
 */
export async function claimIdempotencyKey(tx: Db, claim: ClaimRequest): Promise<Claim> {
  const inserted = await tx
    .insert(idempotencyKeys)
    .values({ tenantId: claim.tenantId, scope: claim.scope, key: claim.key, requestHash: claim.hash, resourceId: claim.resourceId })
    .onConflictDoNothing()
    .returning({ resourceId: idempotencyKeys.resourceId });
  if (inserted.length > 0) return { kind: 'new', resourceId: claim.resourceId };
  return replayOf(tx, claim);
}

/** The claim another request holds on the key: a replay of it, or 422 if it was for another body. */
async function replayOf(db: Db, claim: ClaimRequest): Promise<Extract<Claim, { kind: 'replay' }>> {
  const [existing] = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.tenantId, claim.tenantId), eq(idempotencyKeys.scope, claim.scope), eq(idempotencyKeys.key, claim.key)));
  if (!existing) throw new Error('idempotency key vanished after a conflict');
  if (existing.requestHash !== claim.hash) {
    throw new ApiError(
      422,
      'idempotency_key_reused',
      `Idempotency-Key "${claim.key}" was already used with a different request body (for ${existing.resourceId}); use a new key for a new request`,
    );
  }
  return { kind: 'replay', resourceId: existing.resourceId, status: existing.responseStatus, body: existing.responseBody };
}


/**
 * Claims a key and creates its resource in one statement, one round trip and one commit: `insert` is
 * an `INSERT … SELECT … FROM claimed` that reads the claim's RETURNING, so the resource is written only
 * when the key was free, atomically with the claim. A key already taken (a retry, or a concurrent
 * duplicate) costs a second statement, whose new snapshot sees the other request's committed claim.
 */
export async function claimAndInsert<Row extends Record<string, unknown>>(
  db: Db,
  claim: ClaimRequest,
  insert: SQL,
): Promise<{ kind: 'new'; resourceId: string; row: Row } | Extract<Claim, { kind: 'replay' }>> {
  const result = await db.execute(sql`with claimed as (
      insert into ${idempotencyKeys} (tenant_id, scope, key, request_hash, resource_id)
      values (${claim.tenantId}, ${claim.scope}, ${claim.key}, ${claim.hash}, ${claim.resourceId})
      on conflict do nothing
      returning resource_id)
    ${insert}`);
  const [row] = rowsOf<Row>(result);
  if (row) return { kind: 'new', resourceId: claim.resourceId, row };
  return replayOf(db, claim);
}

export async function storeIdempotentResponse(
  db: Db,
  ref: { tenantId: string; scope: string; key: string },
  status: number,
  body: unknown,
): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ responseStatus: status, responseBody: body })
    .where(and(eq(idempotencyKeys.tenantId, ref.tenantId), eq(idempotencyKeys.scope, ref.scope), eq(idempotencyKeys.key, ref.key)));
}
