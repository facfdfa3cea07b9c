import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { RequestHandler } from 'express';
import type { Db } from '../db/client.js';
import { apiKeys, tenants } from '../db/schema.js';
import { hashApiKey } from '../secrets/api-keys.js';
import { ApiError } from './errors.js';

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

const unauthorized = (why: string) => new ApiError(401, 'unauthorized', why);

/** Compares digests so the comparison time says nothing about the token. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function adminAuth(adminToken: string): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req.get('authorization'));
    if (!token) return next(unauthorized('missing "Authorization: Bearer <admin token>" header'));
    if (!sameSecret(token, adminToken)) return next(unauthorized('admin token is not valid'));
    next();
  };
}

/** Resolves the tenant from its API key; the only way a request gets a tenant. */
export function tenantAuth(db: Db): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req.get('authorization'));
    if (!key) return next(unauthorized('missing "Authorization: Bearer <API key>" header'));
    const [row] = await db
      .select({ id: tenants.id, name: tenants.name })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(and(eq(apiKeys.keyHash, hashApiKey(key)), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (!row) return next(unauthorized('API key is not valid'));
    res.locals.tenant = row;
    next();
  };
}
