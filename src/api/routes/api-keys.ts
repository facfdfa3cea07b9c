import { z } from 'zod';
import { ApiKeyNotFoundError, apiKeyView, createApiKey, LastFullApiKeyError, listApiKeys, revokeApiKey } from '../../stores/platform/api-key-store.js';
import { byKey } from '../../stores/platform/audit-event-store.js';
import { DEFAULT_TENANT_QUOTAS, QuotaExceededError } from '../../stores/platform/quota-store.js';
import type { AppDeps } from '../deps.js';
import { API_KEY_SCOPES, type ResourceRouter } from '../endpoint.js';
import { ApiError } from '../errors.js';
import { quotaRefusal } from '../quota-refusals.js';

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

/** The API key store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof ApiKeyNotFoundError) throw ApiError.notFound('API key', err.keyId);
  if (err instanceof LastFullApiKeyError) throw new ApiError(409, 'conflict', err.message);
  if (err instanceof QuotaExceededError) throw quotaRefusal(err);
  throw err;
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
        const { row, apiKey } = await createApiKey(db, quotas, byKey(tenant), body).catch(refusal);
        res.status(201).json({ key: apiKeyView(row), apiKey });
      },
    )
    .endpoint(
      'get',
      '/v1/api-keys',
      { operationId: 'listApiKeys', summary: "List the tenant's API keys (revoked ones included)", responses: { 200: { description: 'Keys', schema: z.object({ data: z.array(apiKeyOut) }) } } },
      async ({ tenant, res }) => {
        res.json({ data: (await listApiKeys(db, tenant.id)).map(apiKeyView) });
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
        const revoked = await revokeApiKey(db, byKey(tenant), params.id).catch(refusal);
        res.json(apiKeyView(revoked));
      },
    );
}
