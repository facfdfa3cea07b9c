import { Router } from 'express';
import type { Registry } from 'prom-client';
import { sameSecret } from '../auth.js';
import { ApiError } from '../errors.js';

/**
 * `GET /metrics` on the public API port, in the Prometheus text format, for `Authorization: Bearer
 * <METRICS_TOKEN>` only (Prometheus `authorization: { credentials: ... }`). Mounted only when
 * METRICS_TOKEN is set; otherwise metrics are served on METRICS_PORT alone (src/api/main.ts).
 */
export function metricsRouter(registry: Registry, token: string): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    const presented = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    if (presented === undefined || !sameSecret(presented, token)) {
      throw new ApiError(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
