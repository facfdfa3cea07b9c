import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { TASK_QUEUE_FAMILIES, type TaskQueueFamily } from '../shared/task-queues.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * `CREDENTIALS_KEYS`: comma-separated `keyId:base64key` pairs, each key 32 bytes (AES-256). The first
 * key encrypts; every listed key can decrypt, so a key can be rotated in without rewriting rows.
 */
const credentialKeys = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys: { id: string; key: Buffer }[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
      const sep = part.indexOf(':');
      const id = part.slice(0, sep);
      const key = Buffer.from(part.slice(sep + 1), 'base64');
      if (sep <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        ctx.addIssue({
          code: 'custom',
          message: 'each entry must look like keyId:<base64 of 32 random bytes> (e.g. k1:$(openssl rand -base64 32))',
        });
        return z.NEVER;
      }
      keys.push({ id, key });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one keyId:base64key entry is required' });
      return z.NEVER;
    }
    return keys;
  });

/**
 * `TRUST_PROXY`: which proxies' X-Forwarded-For to believe for the client address (per-address rate
 * limits). `false` (default: the socket's peer is the client), `true` (any: only behind a proxy that
 * overwrites the header), a hop count, or a comma list of addresses/CIDRs or loopback/linklocal/uniquelocal.
 */
const trustProxy = z.string().transform((raw, ctx) => {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((p) => p.trim()).filter(Boolean);
  const bad = entries.filter((e) => !['loopback', 'linklocal', 'uniquelocal'].includes(e) && !isIpOrCidr(e));
  if (entries.length === 0 || bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `expected true, false, a hop count or a comma list of addresses/CIDRs (not: ${bad.join(', ')})` });
    return z.NEVER;
  }
  return entries;
});

function isIpOrCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || !ipaddr.isValid(address!)) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (ipaddr.parse(address!).kind() === 'ipv4' ? 32 : 128);
}

const perWindow = z.coerce.number().int().min(1).max(10_000_000);
const quota = z.coerce.number().int().min(1).max(100_000);
const port = z.coerce.number().int().min(0).max(65535);
const logFormat = z.enum(['json', 'pretty']);

/*
 * The settings in parts, each a group that some processes read; every process's schema below is the
 * parts it reads. docs/configuration.md is the table of all of them (test/unit/configuration-docs.test.ts
 * keeps the two in step).
 */

/** Every process: logs. */
const logging = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** `pretty` (pino-pretty) for development; JSON lines otherwise. */
  LOG_FORMAT: logFormat.default('json'),
};

/** Every process that opens the database. */
const database = {
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  DATA_DIR: z.string().default('.data'),
  CREDENTIALS_KEYS: credentialKeys.optional(),
  /** Start-up: how often and how far apart to retry the database and Temporal before giving up. */
  STARTUP_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(30),
  STARTUP_RETRY_DELAY_MS: z.coerce.number().int().min(10).max(60_000).default(2000),
};

const temporalAddress = { TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233') };

/**
 * API and worker: the Temporal connection. The names are the ones @temporalio/envconfig (and the
 * Temporal CLI) reads; TEMPORAL_TLS_CERT_PATH/KEY_PATH are deprecated aliases (DEPRECATED_ALIASES).
 */
const temporal = {
  ...temporalAddress,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** A profile from a TOML config file. */
  TEMPORAL_PROFILE: z.string().optional(),
  TEMPORAL_CONFIG_FILE: z.string().optional(),
  /** Attempts of one Temporal client call while Temporal does not answer (src/temporal/connection.ts). */
  TEMPORAL_CLIENT_CALL_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  /** Same format as CREDENTIALS_KEYS (separate keys): encrypts workflow payloads in Temporal (payload codec). */
  PAYLOAD_CODEC_KEYS: credentialKeys.optional(),
  /** Appended to every task queue name, to isolate one deployment's workers from another's. */
  TASK_QUEUE_SUFFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, "_" or "-"').optional(),
};

/** API and worker: calls to providers, and the guard on tenant-supplied URLs. */
const providers = {
  STRIPE_API_URL: z.url().optional(),
  PROVIDERS_DIR: z.string().default('providers'),
  ALLOW_PRIVATE_PROVIDER_URLS: bool.default(false),
  /** Host patterns (`erp.corp.example`, `*.corp.example`, optional `:port`) tenants may reach on private addresses. */
  EGRESS_ALLOWED_HOSTS: z
    .string()
    .transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i, 'host, *.domain or host:port entries, comma-separated')))
    .optional(),
  /** Response size cap for calls to tenant-supplied URLs (bytes). */
  EGRESS_MAX_RESPONSE_BYTES: z.coerce.number().int().min(1024).default(5 * 1024 * 1024),
  /** Total time cap for one call to a tenant-supplied URL (ms). */
  EGRESS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
};

/** API and worker: OpenTelemetry traces. */
const tracing = {
  /** OTLP/HTTP base URL (spans go to <url>/v1/traces); unset = tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL, e.g. http://otel-collector:4318' }).optional(),
  /** Headers for the OTLP exporter, `key=value` pairs separated by commas (e.g. an API key of a tracing vendor). */
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .transform((raw, ctx) => {
      const headers: Record<string, string> = {};
      for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        if (eq <= 0) {
          ctx.addIssue({ code: 'custom', message: 'expected key=value pairs separated by commas' });
          return z.NEVER;
        }
        headers[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
      }
      return headers;
    })
    .optional(),
  /** The service name on exported spans; default switchyard-api / switchyard-worker. */
  OTEL_SERVICE_NAME: z.string().min(1).max(100).optional(),
};

/** API and worker: a payment's timing (the API starts payment workflows, the worker's reconciliation too). */
const paymentTiming = {
  /** How long to wait for a gateway callback before polling its status. */
  PAYMENT_CALLBACK_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** How long ambiguous charges, refunds and captures are asked about before reconciliation. */
  PAYMENT_RESOLUTION_WINDOW_SECONDS: z.coerce.number().int().min(1).max(30 * 86_400).default(86_400),
  /**
   * How long a payment's workflow stays open after its outcome, taking refunds and captures as
   * updates (one run tells the whole story). 0 closes it at the outcome; later refunds and captures
   * always work, as standalone workflows.
   */
  PAYMENT_AFTERCARE_WINDOW_SECONDS: z.coerce.number().int().min(0).max(180 * 86_400).default(7 * 86_400),
};

/** API and worker: the address their listeners (the API, /metrics) bind to. */
const host = { HOST: z.string().default('127.0.0.1') };

/** The API alone. */
const api = {
  PORT: port.default(3000),
  /** Public base URL of the API, used in printed hints and webhook URLs. */
  PUBLIC_URL: z.url().optional(),
  ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Prometheus /metrics on HOST:port, a listener of its own (keep it on the internal network). */
  METRICS_PORT: port.optional(),
  /** Also serve /metrics on the public PORT, to `Authorization: Bearer <token>` only. */
  METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** The Temporal UI, whose origin may call the codec endpoint. */
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  /** How long in-flight requests may run after SIGTERM before connections are closed. */
  API_SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(15),
  /** Largest CSV file accepted by PUT /v1/integrations/:id/files/:entity (bytes; default 512 MB). */
  ERP_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 ** 3).default(512 * 1024 * 1024),
  /** Per-tenant quotas (docs/tenancy.md#quotas): what one tenant may create or keep. */
  TENANT_MAX_CONNECTIONS: quota.default(50),
  TENANT_MAX_ERP_INTEGRATIONS: quota.default(50),
  /** Declarative providers a tenant adds (PUT /v1/providers/:name). */
  TENANT_MAX_PROVIDER_DEFINITIONS: quota.default(50),
  /** Active (not revoked) API keys. */
  TENANT_MAX_API_KEYS: quota.default(20),
  /** Webhook endpoints (POST /v1/webhook-endpoints). */
  TENANT_MAX_WEBHOOK_ENDPOINTS: quota.default(20),
  /** Bytes of uploaded ERP files a tenant keeps (default 2 GiB). */
  TENANT_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).max(1024 ** 4).default(2 * 1024 ** 3),
  /** Uploads of one tenant received at the same time; more get 429 with Retry-After. */
  TENANT_MAX_CONCURRENT_UPLOADS: z.coerce.number().int().min(1).max(100).default(2),
  /** Smallest polling interval (settings.intervalSeconds) of an ERP integration. */
  ERP_MIN_POLL_INTERVAL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(60),
  TRUST_PROXY: trustProxy.default(false),
  /** Rate limits: requests per window, counted in Postgres so every API instance shares them. */
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  RATE_LIMIT_PER_TENANT: perWindow.default(1200),
  /** Unauthenticated and admin requests, failed authentications and unverified webhooks, per client address. */
  RATE_LIMIT_PER_IP: perWindow.default(60),
  /** Verified webhooks per gateway connection or ERP integration (each its own bucket). */
  RATE_LIMIT_PER_WEBHOOK_CONNECTION: perWindow.default(1200),
};

/** The worker alone. */
const worker = {
  HEALTH_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(3600).default(30),
  /** Days events are kept (GET /v1/events, redelivery, replay); an hourly Schedule deletes older ones. */
  EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** How often the reconciliation Schedule re-asks gateways about unknown payments and abandoned attempts. */
  RECONCILIATION_INTERVAL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(900),
  /**
   * Caps on what one tenant's ERP source may make a shared worker hold (why these defaults:
   * DEFAULT_ERP_SOURCE_LIMITS in src/providers/erp/source.ts). A CSV row over ERP_MAX_RECORD_BYTES
   * fails the run; a row with a field over ERP_MAX_FIELD_BYTES is dead-lettered; a CSV page ends at
   * ERP_MAX_PAGE_BYTES of the file; a REST page with more than ERP_MAX_PAGE_RECORDS records fails the run.
   */
  ERP_MAX_RECORD_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 ** 2).default(1024 ** 2),
  ERP_MAX_FIELD_BYTES: z.coerce.number().int().min(256).max(256 * 1024 ** 2).default(256 * 1024),
  ERP_MAX_PAGE_BYTES: z.coerce.number().int().min(64 * 1024).max(1024 ** 3).default(16 * 1024 ** 2),
  ERP_MAX_PAGE_RECORDS: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
  /** A gzip CSV export or upload that inflates past this many bytes fails the run. */
  ERP_MAX_DECOMPRESSED_BYTES: z.coerce.number().int().min(1024 ** 2).max(64 * 1024 ** 3).default(512 * 1024 ** 2),
  /** Prometheus /metrics (gateway calls, circuits, and the Temporal SDK's metrics) on HOST:port. */
  WORKER_METRICS_PORT: port.optional(),
  /** Where the Temporal SDK's own Prometheus exporter listens (merged into WORKER_METRICS_PORT's /metrics). */
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** How long in-flight activities may run after SIGTERM before they are cancelled. */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  /**
   * Concurrent activities (and, separately, local activities) per task queue in a worker process.
   * Unset: 4 x DATABASE_POOL_SIZE, so bookkeeping never queues on the pool past its timeout.
   */
  WORKER_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(1000).optional(),
  /**
   * Provider calls (gateway, CRM, ERP) one tenant may have running at once in this process; a call
   * over it waits in its workflow, so a tenant with a hanging provider cannot take every slot.
   * Unset: a quarter of the activity slots, at least 2.
   */
  TENANT_MAX_PROVIDER_CALLS: z.coerce.number().int().min(1).max(1000).optional(),
  /**
   * The task queues (process families) this process serves, comma-separated, e.g. `erp` for a
   * deployment of ERP workers of its own. Unset: all of them.
   */
  WORKER_TASK_QUEUES: z
    .string()
    .transform((v, ctx) => {
      const names = [...new Set(v.split(',').map((q) => q.trim()).filter(Boolean))];
      const unknown = names.filter((n) => !(TASK_QUEUE_FAMILIES as readonly string[]).includes(n));
      if (names.length > 0 && unknown.length === 0) return names as TaskQueueFamily[];
      const what = unknown.length > 0 ? `unknown task queue ${unknown.map((n) => `"${n}"`).join(', ')}` : 'no task queue named';
      ctx.addIssue({ code: 'custom', message: `${what}; use some of ${TASK_QUEUE_FAMILIES.join(', ')}, comma-separated` });
      return z.NEVER;
    })
    .optional(),
  /** A workflow bundle built by `npm run build`; without it the worker bundles at start (development). */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /**
   * Webhooks to the merchant: how long one delivery is retried (fractional hours allowed, e.g. 0.5),
   * the first retry's delay and the longest (the delays double in between), one attempt's HTTP time
   * cap, and how long an endpoint may fail without a single success before it is disabled.
   */
  WEBHOOK_RETRY_HOURS: z.coerce.number().min(0.001).max(720).default(72),
  WEBHOOK_RETRY_FIRST_DELAY_SECONDS: z.coerce.number().min(0.1).max(3600).default(5),
  WEBHOOK_RETRY_MAX_DELAY_SECONDS: z.coerce.number().min(1).max(86_400).default(3600),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().min(0.001).max(8760).default(72),
};

/** `npm run dev` and `npm run temporal`: the local Temporal dev server. */
const devServer = {
  /** A Temporal CLI binary for the dev server (else `temporal` on PATH, then a project-local install). */
  TEMPORAL_CLI: z.string().optional(),
};

/** `npm run dev` alone: the demo. */
const demo = {
  /** Start the emulated gateways and the demo tenant. */
  DEMO: bool.default(true),
  /** Card payments the demo sends at start, printing each route. */
  DEMO_PAYMENTS: z.coerce.number().int().min(0).max(10_000).default(0),
};

const service = { ...logging, ...database, ...temporal, ...providers, ...tracing, ...paymentTiming, ...host };

/** `npm run api` / `node dist/api/main.js`. */
export const apiSchema = z.object({ ...service, ...api });
/** `npm run worker` / `node dist/workers/main.js`. */
export const workerSchema = z.object({ ...service, ...worker });
/**
 * `npm run dev`: API and worker in one process, with the demo. TEMPORAL_ADDRESS has no default here:
 * unset, dev starts a Temporal dev server of its own.
 */
export const devSchema = z.object({ ...service, ...api, ...worker, ...devServer, ...demo, TEMPORAL_ADDRESS: z.string().optional() });
/** `npm run migrate` and `npm run reseal-credentials`. */
export const toolsSchema = z.object({ ...logging, ...database });
/** `npm run temporal`: the Temporal dev server alone, on the ports of TEMPORAL_ADDRESS and TEMPORAL_UI_URL. */
export const temporalServerSchema = z.object({ DATA_DIR: database.DATA_DIR, ...temporalAddress, TEMPORAL_UI_URL: api.TEMPORAL_UI_URL, ...devServer });

/** Each process and the schema its entry point parses (docs/configuration.md names them so). */
export const processSchemas = {
  api: apiSchema,
  worker: workerSchema,
  dev: devSchema,
  tools: toolsSchema,
  temporal: temporalServerSchema,
} as const;

export type ApiEnv = z.infer<typeof apiSchema>;
export type WorkerEnv = z.infer<typeof workerSchema>;
export type DevEnv = z.infer<typeof devSchema>;
export type ToolsEnv = z.infer<typeof toolsSchema>;
/** Every setting of the API and the worker; modules take the `Pick` of it they read. */
export type Env = ApiEnv & WorkerEnv;

/** Thrown at start-up when a setting is missing or malformed; names each variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Names this project used before it took @temporalio/envconfig's: still read, when the standard name is
 * unset (docs/configuration.md).
 */
const DEPRECATED_ALIASES: Record<string, string> = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
};

/** Parses one process's settings (a schema above) from the environment, or throws naming each bad one. */
export function parseEnv<S extends z.ZodObject>(schema: S, source: Record<string, string | undefined>): z.infer<S> {
  // Empty strings mean "unset", as in most shells' `FOO= cmd`.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  for (const [old, name] of Object.entries(DEPRECATED_ALIASES)) {
    if (cleaned[old] !== undefined && cleaned[name] === undefined && name in schema.shape) cleaned[name] = cleaned[old];
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** What each setting a process may require looks like, for the message that names it missing. */
const LOOKS_LIKE: Record<string, string> = {
  DATABASE_URL: 'postgres://user:pass@host:5432/db',
  CREDENTIALS_KEYS: 'k1:$(openssl rand -base64 32)',
  PAYLOAD_CODEC_KEYS: 'p1:$(openssl rand -base64 32), other keys than CREDENTIALS_KEYS',
  ADMIN_TOKEN: 'at least 24 random characters',
};

/**
 * Narrows a config to what a production process needs, before it connects to anything; names every
 * setting that is missing and what it should look like.
 */
export function requireSettings<E extends object, K extends keyof E & string>(env: E, keys: K[]): E & Required<Pick<E, K>> {
  const missing = keys.filter((k) => env[k] === undefined).map((k) => (LOOKS_LIKE[k] ? `${k} (${LOOKS_LIKE[k]})` : k));
  if (missing.length > 0) throw new ConfigError(`Missing configuration: ${missing.join(', ')}; see docs/configuration.md`);
  return env as E & Required<Pick<E, K>>;
}
