import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { hasAdminToken } from '../auth.js';
import type { ResourceRouter } from '../endpoint.js';

const CHECK_TIMEOUT_MS = 2_000;

const checkOut = z.object({
  ok: z.boolean(),
  latencyMs: z.number().int().nonnegative(),
  error: z.string().optional().meta({ description: 'Why the component is down; only with the admin token' }),
});
const healthOut = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ database: checkOut, temporal: checkOut }),
}).meta({
  id: 'Health',
  examples: [{ status: 'ok', checks: { database: { ok: true, latencyMs: 2 }, temporal: { ok: true, latencyMs: 4 } } }],
});

async function timed(probe: () => Promise<unknown>): Promise<z.infer<typeof checkOut>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    // Driver errors can quote connection strings; keep only the first line, with any password masked.
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/:[^:@/]+@/g, ':***@');
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: message };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  return r.endpoint(
    'get',
    '/health',
    {
      operationId: 'getHealth',
      summary: 'Reachability of the database and Temporal',
      description: 'Open to everyone (load balancers, orchestrators). Error details are shown only with the admin token.',
      security: 'none',
      // Load balancers probe often from few addresses; a probe is two cheap pings.
      rateLimit: false,
      responses: {
        200: { description: 'Everything reachable', schema: healthOut },
        503: { description: 'Something is down; `checks` says which', schema: healthOut },
      },
    },
    async ({ req, res }) => {
      const checks = await Promise.all([
        timed(() => deps.database.ping()),
        timed(() => deps.temporal.workflowService.getSystemInfo({})),
      ]);
      // Driver messages name hosts, ports and users: details are for the operator only.
      const admin = hasAdminToken(req, deps.adminToken);
      const [database, temporal] = checks.map(({ error, ...rest }) => (admin && error ? { ...rest, error } : rest)) as typeof checks;
      const ok = database.ok && temporal.ok;
      res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: { database, temporal } });
    },
  );
}
