import { z } from 'zod';
import { uploadUsage } from '../../stores/erp/upload-store.js';
import { countAllOwned, DEFAULT_TENANT_QUOTAS, QUOTA_SETTINGS, type QuotaName } from '../../stores/platform/quota-store.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter } from '../endpoint.js';

const quotaOut = z
  .object({
    name: z.string().meta({ description: 'The name refusals use (error code quota_exceeded)' }),
    setting: z.string().meta({ description: 'The setting that sets the limit' }),
    limit: z.number().int().nonnegative(),
    used: z.number().int().nonnegative().nullable().meta({ description: 'Current usage; null for a minimum (erp_min_poll_interval_seconds)' }),
  })
  .meta({ id: 'Quota', examples: [{ name: 'connections', setting: 'TENANT_MAX_CONNECTIONS', limit: 50, used: 3 }] });

/** A tenant's quotas with its current usage, so it can see how close it is before a create is refused. */
export function quotasRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;
  return r.endpoint(
    'get',
    '/v1/quotas',
    {
      operationId: 'listQuotas',
      summary: "The tenant's quotas, their settings and current usage",
      description: 'See docs/tenancy.md#quotas.',
      responses: { 200: { description: 'Quotas', schema: z.object({ data: z.array(quotaOut) }) } },
    },
    async ({ tenant, res }) => {
      const [counts, uploads] = await Promise.all([countAllOwned(db, tenant.id), uploadUsage(db, tenant.id)]);
      const used: Record<QuotaName, number | null> = {
        ...counts,
        upload_bytes: uploads.bytes,
        concurrent_uploads: uploads.receiving,
        erp_min_poll_interval_seconds: null,
      };
      res.json({
        data: (Object.keys(QUOTA_SETTINGS) as QuotaName[]).map((name) => ({ name, setting: QUOTA_SETTINGS[name], limit: quotas[name], used: used[name] })),
      });
    },
  );
}
