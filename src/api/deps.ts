import type { Client } from '@temporalio/client';
import type { ApiEnv } from '../config/env.js';
import { outboundUrlPolicy } from '../providers/egress/from-env.js';
import type { Runtime } from '../runtime.js';
import { taskQueuesFor } from '../shared/task-queues.js';
import { EncryptionCodec } from '../temporal/payload-codec.js';
import type { PayloadCodec } from '@temporalio/common';
import type { Database } from '../db/client.js';
import type { CircuitConfig } from '../domain/circuit-breaker.js';
import type { Logger } from '../logger.js';
import type { FetchLike } from '../providers/declarative/http.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OutboundUrlPolicy } from '../providers/url-policy.js';
import type { PaymentTiming } from '../shared/payment-messages.js';
import type { TaskQueues } from '../shared/task-queues.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import type { RateLimitRejectedHook, RateLimitSettings } from './rate-limit.js';
import type { TenantQuotas } from '../stores/platform/quota-store.js';
import type { Tracing } from '../tracing/tracing.js';

/** What the API needs from its process: built by the entry points with appDeps(), handed to every router. */
export interface AppDeps {
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  /** The guarded path to tenant-supplied URLs (the runtime's egress): trial calls go out through it like real ones. */
  egress: FetchLike;
  adminToken: string;
  /** METRICS_TOKEN: serves GET /metrics on the API port to this bearer token (absent: not served there). */
  metricsToken?: string;
  logger: Logger;
  /** Policy for URLs in tenant-supplied connection settings (SSRF guard). */
  urlPolicy: OutboundUrlPolicy;
  taskQueues: TaskQueues;
  /** Overrides of the payment workflow's waits (tests and demos use short ones). */
  paymentTiming?: Partial<PaymentTiming>;
  /** Circuit breaker settings shared with the workers (so simulate shows what routing will do). */
  circuit?: CircuitConfig;
  publicUrl?: string;
  /** The payload codec behind the codec endpoint for the Temporal UI (absent: no endpoint). */
  payloadCodec?: PayloadCodec;
  /** Origin of the Temporal UI, allowed to call the codec endpoint from the browser. */
  codecCorsOrigin?: string;
  /** Request limits per tenant, client address and webhook connection (DEFAULT_RATE_LIMITS if absent). */
  rateLimits?: RateLimitSettings;
  /** Told of every 429 (a metrics counter hooks in here). */
  onRateLimited?: RateLimitRejectedHook;
  /** Express `trust proxy`: which hops' X-Forwarded-For to believe for the client address (none if absent). */
  trustProxy?: boolean | number | string[];
  /** Largest CSV file accepted by PUT /v1/integrations/:id/files/:entity (DEFAULT_UPLOAD_MAX_BYTES if absent). */
  erpUploadMaxBytes?: number;
  /** What one tenant may create or keep (DEFAULT_TENANT_QUOTAS if absent). */
  quotas?: TenantQuotas;
  /** Tracing: a span per request when on (runtime.tracing). */
  tracing?: Pick<Tracing, 'httpMiddleware'>;
}

/** The API's dependencies from a runtime: the one place the entry points translate settings for it. */
export function appDeps(runtime: Runtime<ApiEnv>, temporal: Client, adminToken: string): AppDeps {
  const { env } = runtime;
  return {
    ...runtime,
    temporal,
    adminToken,
    ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
    urlPolicy: outboundUrlPolicy(env),
    taskQueues: taskQueuesFor(env.TASK_QUEUE_SUFFIX),
    paymentTiming: {
      callbackTimeoutMs: env.PAYMENT_CALLBACK_TIMEOUT_SECONDS * 1000,
      ambiguousResolutionMs: env.PAYMENT_RESOLUTION_WINDOW_SECONDS * 1000,
      aftercareWindowMs: env.PAYMENT_AFTERCARE_WINDOW_SECONDS * 1000,
    },
    trustProxy: env.TRUST_PROXY,
    erpUploadMaxBytes: env.ERP_UPLOAD_MAX_BYTES,
    quotas: {
      connections: env.TENANT_MAX_CONNECTIONS,
      erp_integrations: env.TENANT_MAX_ERP_INTEGRATIONS,
      provider_definitions: env.TENANT_MAX_PROVIDER_DEFINITIONS,
      api_keys: env.TENANT_MAX_API_KEYS,
      webhook_endpoints: env.TENANT_MAX_WEBHOOK_ENDPOINTS,
      upload_bytes: env.TENANT_MAX_UPLOAD_BYTES,
      concurrent_uploads: env.TENANT_MAX_CONCURRENT_UPLOADS,
      erp_min_poll_interval_seconds: env.ERP_MIN_POLL_INTERVAL_SECONDS,
    },
    rateLimits: {
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      tenant: env.RATE_LIMIT_PER_TENANT,
      ip: env.RATE_LIMIT_PER_IP,
      webhook: env.RATE_LIMIT_PER_WEBHOOK_CONNECTION,
    },
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
    ...(env.PAYLOAD_CODEC_KEYS ? { payloadCodec: new EncryptionCodec(env.PAYLOAD_CODEC_KEYS) } : {}),
    codecCorsOrigin: new URL(env.TEMPORAL_UI_URL).origin,
  };
}
