import { z } from 'zod';
import { resealCredentials } from '../../stores/platform/credential-reseal-store.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter } from '../endpoint.js';

const resealBody = z
  .strictObject({ batchSize: z.number().int().min(1).max(5000).default(200) })
  .meta({ examples: [{ batchSize: 200 }] });
const progressOut = z.object({
  resourceType: z.string(),
  resealed: z.number().int().nonnegative(),
  failed: z.array(z.object({ id: z.string(), reason: z.string() })),
});
const reportOut = z.object({ activeKeyId: z.string(), tables: z.array(progressOut) }).meta({
  id: 'ResealReport',
  examples: [
    {
      activeKeyId: 'k2026',
      tables: [
        { resourceType: 'connection', resealed: 12, failed: [] },
        { resourceType: 'integration', resealed: 3, failed: [] },
      ],
    },
  ],
});

/** Operator routes for the credential encryption keys (admin token). */
export function credentialsAdminRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  return r.endpoint(
    'post',
    '/v1/admin/credentials/reseal',
    {
      operationId: 'resealCredentials',
      summary: 'Re-seal every stored credential with the first key of CREDENTIALS_KEYS',
      description:
        'Runs in batches and answers with the counts per table. Idempotent and safe to run concurrently. ' +
        'When no row failed, every other key can be dropped from CREDENTIALS_KEYS (restart API and workers after).',
      security: 'admin',
      body: resealBody,
      responses: { 200: { description: 'What was re-sealed; failed rows keep their old key', schema: reportOut } },
    },
    async ({ body, res }) => {
      res.json(await resealCredentials(deps.database.db, deps.cipher, { batchSize: body.batchSize }));
    },
  );
}
