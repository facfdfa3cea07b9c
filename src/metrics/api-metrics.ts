import { eq, sql } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { connections, paymentStatusCounts } from '../db/schema.js';

/**
 * The API's Prometheus metrics (prom-client, Prometheus naming: base units, `_total` counters).
 * Counters live in one module-level registry so any API module can import and increment them (the
 * rate limiter: `rateLimitRejections.inc({ scope: 'tenant' })`).
 */
export const apiRegistry = new Registry();
collectDefaultMetrics({ register: apiRegistry });

export const httpRequestDuration = new Histogram({
  name: 'switchyard_http_request_duration_seconds',
  help: 'API request latency by route template and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [apiRegistry],
});

export const idempotentReplays = new Counter({
  name: 'switchyard_idempotent_replays_total',
  help: 'Requests answered from a stored idempotent response (Idempotent-Replayed: true)',
  labelNames: ['route'] as const,
  registers: [apiRegistry],
});

export const webhooksReceived = new Counter({
  name: 'switchyard_webhooks_received_total',
  help: 'Gateway webhooks by provider and outcome (stored, duplicate, signature_invalid)',
  labelNames: ['provider', 'outcome'] as const,
  registers: [apiRegistry],
});

export const rateLimitRejections = new Counter({
  name: 'switchyard_rate_limit_rejections_total',
  help: 'Requests refused with 429 by the rate limiter, by limit scope (tenant, ip...)',
  labelNames: ['scope'] as const,
  registers: [apiRegistry],
});

/**
 * The registry one app serves: the shared counters plus payments by status and provider, read at
 * scrape time from the counts a trigger keeps (payment_status_counts: a few rows per connection and
 * status, never the payments table), so every API replica reports the same truth whichever one
 * served the request (Prometheus: take max() across replicas, not sum()).
 */
export function appMetricsRegistry(db: Db): Registry {
  const local = new Registry();
  new Gauge({
    name: 'switchyard_payments',
    help: 'Payments in the read model by status and provider of the connection that handled them ("none" before routing)',
    labelNames: ['status', 'provider'] as const,
    registers: [local],
    async collect() {
      const rows = await db
        .select({
          status: paymentStatusCounts.status,
          provider: sql<string>`coalesce(${connections.provider}, 'none')`,
          n: sql<string>`sum(${paymentStatusCounts.n})`,
        })
        .from(paymentStatusCounts)
        .leftJoin(connections, eq(connections.id, paymentStatusCounts.connectionId))
        .groupBy(paymentStatusCounts.status, connections.provider);
      this.reset();
      for (const r of rows) if (Number(r.n) !== 0) this.set({ status: r.status, provider: r.provider }, Number(r.n));
    },
  });
  return Registry.merge([apiRegistry, local]);
}
