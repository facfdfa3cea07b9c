import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { apiKeys } from '../../db/schema.js';
import { generateApiKey } from '../../secrets/api-key-digest.js';
import { recordAudit, type ChangedBy } from './audit-event-store.js';
import { requireRoom, type TenantQuotas } from './quota-store.js';

/**
 * A tenant's API keys: more than one (rotation, read-only reporting keys), listed, revoked at once.
 * Only a key's SHA-256 digest is stored; the key itself is handed out once, at creation.
 */
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ApiKeyScope = ApiKeyRow['scope'];

/** An API key as the API shows it and the audit log records it (never the key or its digest). */
export interface ApiKeyView {
  id: string;
  object: 'api_key';
  name: string;
  prefix: string;
  scope: ApiKeyScope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    object: 'api_key',
    name: row.name,
    prefix: row.prefix,
    scope: row.scope,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** The key is not the tenant's (or does not exist). */
export class ApiKeyNotFoundError extends Error {
  override readonly name = 'ApiKeyNotFoundError';
  constructor(readonly keyId: string) {
    super(`API key ${keyId} not found`);
  }
}

/** Revoking the tenant's last active full-scope key would lock it out. */
export class LastFullApiKeyError extends Error {
  override readonly name = 'LastFullApiKeyError';
  constructor(readonly keyId: string) {
    super(`API key ${keyId} is the last active full-scope key of the tenant; create another before revoking it`);
  }
}

/**
 * Inserts a new key of the tenant in the caller's transaction and audits it; returns the row and
 * the key itself (shown this once).
 */
export async function insertApiKey(
  tx: Db,
  by: ChangedBy,
  input: { name?: string; scope?: ApiKeyScope } = {},
): Promise<{ row: ApiKeyRow; apiKey: string }> {
  const key = generateApiKey();
  const [row] = await tx
    .insert(apiKeys)
    .values({ id: newId('key'), tenantId: by.tenantId, keyHash: key.hash, prefix: key.prefix, ...input })
    .returning();
  const after = apiKeyView(row!);
  await recordAudit(tx, { ...by, action: 'api_key.created', resourceType: 'api_key', resourceId: after.id, after });
  return { row: row!, apiKey: key.key };
}

/** Another key of the tenant, within its quota of active keys (QuotaExceededError). */
export async function createApiKey(
  db: Db,
  quotas: TenantQuotas,
  by: ChangedBy,
  input: { name: string; scope: ApiKeyScope },
): Promise<{ row: ApiKeyRow; apiKey: string }> {
  return db.transaction(async (tx) => {
    await requireRoom(tx, quotas, by.tenantId, 'api_keys');
    return insertApiKey(tx, by, input);
  });
}

/** The tenant's keys, revoked ones included, oldest first. */
export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

/**
 * Revokes a key (effective on the next request); revoking a revoked key changes nothing. Refused for
 * the last active full-scope key (LastFullApiKeyError), so a tenant cannot lock itself out.
 */
export async function revokeApiKey(db: Db, by: ChangedBy, id: string): Promise<ApiKeyRow> {
  return db.transaction(async (tx) => {
    // Locking every active key of the tenant serializes concurrent revocations, so two requests
    // cannot each revoke one of the last two full keys.
    const active = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.tenantId, by.tenantId), isNull(apiKeys.revokedAt)))
      .orderBy(asc(apiKeys.id))
      .for('update');
    const target = active.find((k) => k.id === id);
    if (!target) {
      const [gone] = await tx.select().from(apiKeys).where(and(eq(apiKeys.id, id), eq(apiKeys.tenantId, by.tenantId)));
      if (gone) return gone; // already revoked: revoking again changes nothing
      throw new ApiKeyNotFoundError(id);
    }
    if (target.scope === 'full' && !active.some((k) => k.id !== target.id && k.scope === 'full')) throw new LastFullApiKeyError(target.id);
    const [row] = await tx.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, target.id)).returning();
    await recordAudit(tx, {
      ...by,
      action: 'api_key.revoked',
      resourceType: 'api_key',
      resourceId: target.id,
      before: apiKeyView(target),
      after: apiKeyView(row!),
    });
    return row!;
  });
}
