import { and, asc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { byKey, recordAudit } from '../../db/queries/audit-events.js';
import { newId } from '../../db/ids.js';
import { apiKeys } from '../../db/schema.js';
import { generateApiKey } from '../../secrets/api-key-digest.js';
import type { AppDeps } from '../deps.js';
import { API_KEY_SCOPES, type ResourceRouter } from '../endpoint.js';
import { ApiError } from '../errors.js';
import { DEFAULT_TENANT_QUOTAS, requireRoom } from '../quotas.js';

const createBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).meta({ description: 'What the key is for, e.g. "reporting"' }),
    scope: z.enum(API_KEY_SCOPES).default('full').meta({ description: '`read`: GET routes only; `full`: every route' }),
  })
  .meta({ examples: [{ name: 'reporting', scope: 'read' }] });
const idParams = z.object({ id: z.string().min(1).max(100) });

export const apiKeyOut = z.object({
  id: z.string(),
  object: z.literal('api_key'),
  name: z.string(),
  prefix: z.string().meta({ description: 'First characters of the key, to recognise it' }),
  scope: z.enum(API_KEY_SCOPES),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable().meta({ description: 'Updated at most once a minute' }),
  revokedAt: z.string().nullable(),
}).meta({
  id: 'ApiKey',
  examples: [
    {
      id: 'key_4n8k2m6q9x1v3t7p5r0w',
      object: 'api_key',
      name: 'reporting',
      prefix: 'sy_live_3kq9',
      scope: 'read',
      createdAt: '2026-12-07T10:15:30.000Z',
      lastUsedAt: null,
      revokedAt: null,
    },
  ],
});
const createdOut = z
  .object({
    key: apiKeyOut,
    apiKey: z.string().meta({ description: 'Shown once. Store it now: only its SHA-256 digest is kept.' }),
  })
  .meta({
    id: 'ApiKeyCreated',
    examples: [
      {
        key: {
          id: 'key_4n8k2m6q9x1v3t7p5r0w',
          object: 'api_key',
          name: 'reporting',
          prefix: 'sy_live_3kq9',
          scope: 'read',
          createdAt: '2026-12-07T10:15:30.000Z',
          lastUsedAt: null,
          revokedAt: null,
        },
        apiKey: 'sy_live_3kq9x7m2v8t4n6p0r5wz2h7k4m9q1x8tA1b2C3d4E5f',
      },
    ],
  });

type ApiKeyRow = typeof apiKeys.$inferSelect;

export function presentApiKey(row: ApiKeyRow): z.infer<typeof apiKeyOut> {
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

/** A tenant's API keys: more than one (rotation, read-only reporting keys), listed, revoked at once. */
export function apiKeysRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;
  return r
    .endpoint(
      'post',
      '/v1/api-keys',
      {
        operationId: 'createApiKey',
        summary: 'Create another API key',
        body: createBody,
        responses: {
          201: { description: 'Created; the key is returned this once', schema: createdOut },
          422: { description: 'quota_exceeded: the tenant has TENANT_MAX_API_KEYS active keys' },
        },
      },
      async ({ body, tenant, res }) => {
        const key = generateApiKey();
        const row = await db.transaction(async (tx) => {
          await requireRoom(tx, quotas, tenant.id, 'api_keys');
          const [created] = await tx
            .insert(apiKeys)
            .values({ id: newId('key'), tenantId: tenant.id, keyHash: key.hash, prefix: key.prefix, name: body.name, scope: body.scope })
            .returning();
          const after = presentApiKey(created!);
          await recordAudit(tx, { ...byKey(tenant), action: 'api_key.created', resourceType: 'api_key', resourceId: after.id, after });
          return created!;
        });
        res.status(201).json({ key: presentApiKey(row), apiKey: key.key });
      },
    )
    .endpoint(
      'get',
      '/v1/api-keys',
      { operationId: 'listApiKeys', summary: "List the tenant's API keys (revoked ones included)", responses: { 200: { description: 'Keys', schema: z.object({ data: z.array(apiKeyOut) }) } } },
      async ({ tenant, res }) => {
        const rows = await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenant.id)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
        res.json({ data: rows.map(presentApiKey) });
      },
    )
    .endpoint(
      'delete',
      '/v1/api-keys/:id',
      {
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key (refused for the last active full-scope key)',
        description: 'Takes effect on the next request. The last active `full` key cannot be revoked, so a tenant cannot lock itself out: create another first.',
        params: idParams,
        responses: { 200: { description: 'Revoked', schema: apiKeyOut } },
      },
      async ({ params, tenant, res }) => {
        const revoked = await db.transaction(async (tx) => {
          // Locking every active key of the tenant serializes concurrent revocations, so two requests
          // cannot each revoke one of the last two full keys.
          const active = await tx
            .select()
            .from(apiKeys)
            .where(and(eq(apiKeys.tenantId, tenant.id), isNull(apiKeys.revokedAt)))
            .orderBy(asc(apiKeys.id))
            .for('update');
          const target = active.find((k) => k.id === params.id);
          if (!target) {
            const [gone] = await tx.select().from(apiKeys).where(and(eq(apiKeys.id, params.id), eq(apiKeys.tenantId, tenant.id)));
            if (gone) return gone; // already revoked: revoking again changes nothing
            throw ApiError.notFound('API key', params.id);
          }
          if (target.scope === 'full' && !active.some((k) => k.id !== target.id && k.scope === 'full')) {
            throw new ApiError(409, 'conflict', `API key ${target.id} is the last active full-scope key of the tenant; create another before revoking it`);
          }
          const [row] = await tx.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, target.id)).returning();
          await recordAudit(tx, {
            ...byKey(tenant),
            action: 'api_key.revoked',
            resourceType: 'api_key',
            resourceId: target.id,
            before: presentApiKey(target),
            after: presentApiKey(row!),
          });
          return row!;
        });
        res.json(presentApiKey(revoked));
      },
    );
}
