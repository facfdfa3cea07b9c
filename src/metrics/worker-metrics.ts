import { count, eq, sql } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { connectionHealth, connections } from '../db/schema.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { GatewayError, InvalidCredentialsError, type ConnectionProbe } from '../providers/types.js';
import { serveMetrics, type MetricsServer } from './metrics-server.js';
import { providerLabel } from './provider-label.js';

/** The worker's own Prometheus metrics (the Temporal SDK's are exported by its Runtime and merged in). */
export const workerRegistry = new Registry();
collectDefaultMetrics({ register: workerRegistry });

export const gatewayCalls = new Counter({
  name: 'switchyard_gateway_calls_total',
  help: 'Calls to payment gateways by provider, operation and outcome (ok or the error class)',
  labelNames: ['provider', 'operation', 'outcome'] as const,
  registers: [workerRegistry],
});

export const gatewayCallDuration = new Histogram({
  name: 'switchyard_gateway_call_duration_seconds',
  help: 'Latency of payment gateway calls by provider and operation',
  labelNames: ['provider', 'operation'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [workerRegistry],
});

/**
 * Provider calls refused because their tenant had its share running (src/workers/tenant-share.ts), by
 * activity type. No tenant label: tenants are unbounded; the worker log names the tenant.
 */
export const tenantShareRefusals = new Counter({
  name: 'switchyard_tenant_share_refusals_total',
  help: "Provider calls refused (and waited for in their workflow) because the tenant had TENANT_MAX_PROVIDER_CALLS running",
  labelNames: ['activity'] as const,
  registers: [workerRegistry],
});

/**
 * Webhooks to the merchant (src/activities/events): every attempt by what it led to (`delivered`,
 * `retry`, `gone`, `disabled`, `finished`), deliveries by how they settled, endpoints disabled by
 * reason, and how long after its event a delivery arrived. No tenant or endpoint label: unbounded.
 */
export const webhookAttempts = new Counter({
  name: 'switchyard_webhook_attempts_total',
  help: 'Webhook delivery attempts by result: delivered (2xx), retry (other answer or none), gone (410), disabled (failing too long), finished (settled meanwhile)',
  labelNames: ['result'] as const,
  registers: [workerRegistry],
});

export const webhookDeliveriesSettled = new Counter({
  name: 'switchyard_webhook_deliveries_total',
  help: 'Webhook deliveries settled, by status: delivered, failed (retry window over, 410 or endpoint disabled), canceled (endpoint disabled or deleted)',
  labelNames: ['status'] as const,
  registers: [workerRegistry],
});

export const webhookEndpointsDisabled = new Counter({
  name: 'switchyard_webhook_endpoints_disabled_total',
  help: 'Webhook endpoints disabled by delivery, by reason: gone (answered 410) or failing (failed for WEBHOOK_DISABLE_AFTER_HOURS)',
  labelNames: ['reason'] as const,
  registers: [workerRegistry],
});

export const webhookDeliveryLag = new Histogram({
  name: 'switchyard_webhook_delivery_lag_seconds',
  help: 'From an event being committed to its delivery being answered 2xx (retries included)',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86_400],
  registers: [workerRegistry],
});

/** The error class of a failed gateway call, as a bounded label value. */
function outcomeOf(err: unknown): string {
  if (err instanceof GatewayError) return err.classification;
  if (err instanceof InvalidCredentialsError) return 'invalid_credentials';
  return 'error';
}

/** Webhook parsing is local work (no call to the gateway), so it is not measured. */
const NOT_CALLS: ReadonlySet<PropertyKey> = new Set(['parseWebhook']);

/**
 * Measures every call of a connection client or gateway. A Proxy rather than a wrapper listing the methods, so a
 * method added to PaymentGateway is measured without touching this file. `provider` is a label value
 * (providerLabel), never a tenant's own provider name.
 */
export function instrumentGateway<C extends ConnectionProbe>(gateway: C, provider: string): C {
  return new Proxy(gateway, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || NOT_CALLS.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
      const operation = String(prop);
      return async (...args: unknown[]) => {
        const end = gatewayCallDuration.startTimer({ provider, operation });
        try {
          const result: unknown = await value.apply(target, args);
          gatewayCalls.inc({ provider, operation, outcome: 'ok' });
          return result;
        } catch (err) {
          gatewayCalls.inc({ provider, operation, outcome: outcomeOf(err) });
          throw err;
        } finally {
          end();
        }
      };
    },
  });
}

/**
 * Circuit breaker states of the connections, read from the table the breaker writes, at scrape time.
 * A closed circuit writes no state row (only opening it does), so a connection without one is closed.
 */
function circuitGauge(db: Db, providers: Pick<ProviderRegistry, 'isBuiltIn'>, register: Registry): void {
  new Gauge({
    name: 'switchyard_gateway_circuits',
    help: 'Connections by provider and circuit breaker state (closed, open, half_open) as last stored',
    labelNames: ['provider', 'state'] as const,
    registers: [register],
    async collect() {
      const rows = await db
        .select({
          provider: connections.provider,
          state: sql<string>`coalesce(${connectionHealth.circuit}->>'state', 'closed')`,
          n: count(),
        })
        .from(connections)
        .leftJoin(connectionHealth, eq(connectionHealth.connectionId, connections.id))
        .groupBy(sql`1`, sql`2`);
      this.reset();
      // Tenant providers are summed into one bucket: their names never become label values.
      const totals = new Map<string, { provider: string; state: string; n: number }>();
      for (const r of rows) {
        const provider = providerLabel(r.provider, providers);
        const key = `${provider}\0${r.state}`;
        const t = totals.get(key) ?? { provider, state: r.state, n: 0 };
        t.n += r.n;
        totals.set(key, t);
      }
      for (const t of totals.values()) this.set({ provider: t.provider, state: t.state }, t.n);
    },
  });
}

/**
 * Serves the worker's /metrics: its own registry plus, when `temporalMetricsUrl` is given, the text
 * of the Temporal SDK's Prometheus exporter, so one scrape target has both.
 */
export async function startWorkerMetricsServer(opts: {
  db: Db;
  providers: Pick<ProviderRegistry, 'isBuiltIn'>;
  host: string;
  port: number;
  temporalMetricsUrl?: string;
}): Promise<MetricsServer> {
  const local = new Registry();
  circuitGauge(opts.db, opts.providers, local);
  const registry = Registry.merge([workerRegistry, local]);
  return serveMetrics({
    host: opts.host,
    port: opts.port,
    contentType: registry.contentType,
    async text() {
      const text = await registry.metrics();
      if (!opts.temporalMetricsUrl) return text;
      const sdk = await fetch(opts.temporalMetricsUrl, { signal: AbortSignal.timeout(5_000) });
      return `${text}\n${await sdk.text()}`;
    },
  });
}
