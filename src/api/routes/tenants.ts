import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { apiKeys, tenants } from '../../db/schema.js';
import { newId } from '../../db/ids.js';
import { recordAudit } from '../../db/queries/audit-events.js';
import { presentApiKey } from './api-keys.js';
import { generateApiKey } from '../../secrets/api-key-digest.js';
import type { AppDeps } from '../deps.js';
import { ResourceRouter } from '../endpoint.js';

const createTenantBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).meta({ description: 'Display name of the tenant' }),
  })
  .meta({ examples: [{ name: 'Acme Retail GmbH' }] });

const tenantOut = z
  .object({ id: z.string(), object: z.literal('tenant'), name: z.string(), createdAt: z.string() })
  .meta({ id: 'Tenant', examples: [{ id: 'ten_2v7k4m9q1x8t3n6p5r0w', object: 'tenant', name: 'Acme Retail GmbH', createdAt: '2026-12-07T10:15:30.000Z' }] });
const createdTenantOut = z
  .object({
    tenant: tenantOut,
    apiKey: z.string().meta({ description: 'Shown once. Store it now: only its SHA-256 digest is kept.' }),
  })
  .meta({
    id: 'TenantCreated',
    examples: [
      {
        tenant: { id: 'ten_2v7k4m9q1x8t3n6p5r0w', object: 'tenant', name: 'Acme Retail GmbH', createdAt: '2026-12-07T10:15:30.000Z' },
        apiKey: 'sy_live_9x2k7m4q1v8t3n6p5r0wB7c8D9e0F1g2H3i4J5k',
      },
    ],
  });

function present(row: { id: string; name: string; createdAt: Date }): z.infer<typeof tenantOut> {
  return { id: row.id, object: 'tenant', name: row.name, createdAt: row.createdAt.toISOString() };
}

export function tenantsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  return r
    .endpoint(
      'post',
      '/v1/tenants',
      {
        operationId: 'createTenant',
        summary: 'Create a tenant and its first API key',
        security: 'admin',
        body: createTenantBody,
        responses: { 201: { description: 'Created; the API key is returned this once', schema: createdTenantOut } },
      },
      async ({ body, res }) => {
        const apiKey = generateApiKey();
        const tenant = await deps.database.db.transaction(async (tx) => {
          const [row] = await tx.insert(tenants).values({ id: newId('ten'), name: body.name }).returning();
          const [key] = await tx.insert(apiKeys).values({ id: newId('key'), tenantId: row!.id, keyHash: apiKey.hash, prefix: apiKey.prefix }).returning();
          const by = { tenantId: row!.id, actor: { type: 'admin' } } as const;
          await recordAudit(tx, { ...by, action: 'tenant.created', resourceType: 'tenant', resourceId: row!.id, after: present(row!) });
          await recordAudit(tx, { ...by, action: 'api_key.created', resourceType: 'api_key', resourceId: key!.id, after: presentApiKey(key!) });
          return row!;
        });
        res.status(201).json({ tenant: present(tenant), apiKey: apiKey.key });
      },
    )
    .endpoint(
      'get',
      '/v1/tenants/me',
      { operationId: 'getCurrentTenant', summary: 'The tenant the API key belongs to', responses: { 200: { description: 'The tenant', schema: tenantOut } } },
      async ({ tenant, res }) => {
        const [row] = await deps.database.db.select().from(tenants).where(eq(tenants.id, tenant.id));
        res.json(present(row!));
      },
    );
}
