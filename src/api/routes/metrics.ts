import { Router } from 'express';
import type { Db } from '../../db/client.js';
import { appMetricsRegistry } from '../../metrics/api-metrics.js';

/**
 * `GET /metrics` in the Prometheus text format. Unauthenticated, like most exporters: it carries
 * counts and latencies, no tenant ids; keep it off the public load balancer (see deploy/README.md).
 */
export function metricsRouter(db: Db): Router {
  const registry = appMetricsRegistry(db);
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
