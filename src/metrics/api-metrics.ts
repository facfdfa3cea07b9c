import { eq, sql } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { connections, paymentStatusCounts } from '../db/schema.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { serveMetrics, type MetricsServer } from './metrics-server.js';
import { providerLabel } from './provider-label.js';

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
  help: 'Gateway webhooks by provider (built-in name or "declarative") and outcome (stored, duplicate, signature_invalid)',
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
 * served the request (Prometheus: take max() across replicas, not sum()). A tenant's own providers
 * count under one `declarative` label value (providerLabel).
 */
export function appMetricsRegistry(db: Db, providers: Pick<ProviderRegistry, 'isBuiltIn'>): Registry {
  const local = new Registry();
  new Gauge({
    name: 'switchyard_payments',
    help: 'Payments in the read model by status and provider of the connection that handled them (built-in name, "declarative", or "none" before routing)',
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
      const totals = new Map<string, { status: string; provider: string; n: number }>();
      for (const r of rows) {
        const provider = providerLabel(r.provider, providers);
        const key = `${r.status}\0${provider}`;
        const t = totals.get(key) ?? { status: r.status, provider, n: 0 };
        t.n += Number(r.n);
        totals.set(key, t);
      }
      for (const t of totals.values()) if (t.n !== 0) this.set({ status: t.status, provider: t.provider }, t.n);
    },
  });
  return Registry.merge([apiRegistry, local]);
}

/** The API's /metrics on a listener of its own (METRICS_PORT), bound to `host`. */
export function startApiMetricsServer(db: Db, providers: Pick<ProviderRegistry, 'isBuiltIn'>, host: string, port: number): Promise<MetricsServer> {
  const registry = appMetricsRegistry(db, providers);
  return serveMetrics({ host, port, contentType: registry.contentType, text: () => registry.metrics() });
}
