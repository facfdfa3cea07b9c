import { z } from 'zod';
import { createTenant, findTenant, tenantView } from '../../stores/platform/tenant-store.js';
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
        const { tenant, apiKey } = await createTenant(deps.database.db, body);
        res.status(201).json({ tenant: tenantView(tenant), apiKey });
      },
    )
    .endpoint(
      'get',
      '/v1/tenants/me',
      { operationId: 'getCurrentTenant', summary: 'The tenant the API key belongs to', responses: { 200: { description: 'The tenant', schema: tenantOut } } },
      async ({ tenant, res }) => {
        const row = await findTenant(deps.database.db, tenant.id);
        res.json(tenantView(row!));
      },
    );
}
