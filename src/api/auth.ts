import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/client.js';
import { apiKeys, tenants } from '../db/schema.js';
import { hashApiKey } from '../secrets/api-key-digest.js';
import type { TenantContext } from './endpoint.js';
import { ApiError } from './errors.js';
import { clientAddress, type RateLimiter } from './rate-limit.js';

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

const unauthorized = (why: string) => new ApiError(401, 'unauthorized', why);

/** Compares digests so the comparison time says nothing about the token. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** Whether a request carries the admin token (for routes that answer everyone but tell the admin more). */
export function hasAdminToken(req: Request, adminToken: string): boolean {
  const token = bearer(req.get('authorization'));
  return token !== undefined && sameSecret(token, adminToken);
}

/** A failed authentication counts against the client address, so key guessing meets a 429 quickly. */
async function refuse(limiter: RateLimiter, req: Request, res: Response, why: string): Promise<never> {
  await limiter.consume('ip', clientAddress(req), res);
  throw unauthorized(why);
}

/** Admin routes (tenant creation, re-sealing) count every call per client address. */
export function adminAuth(adminToken: string, limiter: RateLimiter): RequestHandler {
  return async (req, res, next) => {
    await limiter.consume('ip', clientAddress(req), res);
    const token = bearer(req.get('authorization'));
    if (!token) throw unauthorized('missing "Authorization: Bearer <admin token>" header');
    if (!sameSecret(token, adminToken)) throw unauthorized('admin token is not valid');
    next();
  };
}

/** How stale `last_used_at` may get: one write per key and minute at most, not one per request. */
const LAST_USED_PRECISION = sql`interval '1 minute'`;

/**
 * Resolves the tenant from its API key (the only way a request gets a tenant), then counts the
 * request against the tenant's rate limit.
 */
export function tenantAuth(db: Db, limiter: RateLimiter): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req.get('authorization'));
    if (!key) return refuse(limiter, req, res, 'missing "Authorization: Bearer <API key>" header');
    const [row] = await db
      .select({ id: tenants.id, name: tenants.name, apiKeyId: apiKeys.id, scope: apiKeys.scope, lastUsedAt: apiKeys.lastUsedAt })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(and(eq(apiKeys.keyHash, hashApiKey(key)), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (!row) return refuse(limiter, req, res, 'API key is not valid');
    const { lastUsedAt, ...tenant } = row;
    res.locals.tenant = tenant satisfies TenantContext;
    await limiter.consume('tenant', tenant.id, res);
    if (!lastUsedAt || Date.now() - lastUsedAt.getTime() > 60_000) {
      await db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, tenant.apiKeyId), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - ${LAST_USED_PRECISION}`))));
    }
    next();
  };
}
