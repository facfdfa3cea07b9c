import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Database } from '../db/client.js';
import type { CircuitConfig } from '../domain/circuit-breaker.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OutboundUrlPolicy } from '../providers/url-policy.js';
import type { PaymentTiming } from '../shared/payment-messages.js';
import type { TaskQueues } from '../shared/task-queues.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import type { RateLimitRejectedHook, RateLimitSettings } from './rate-limit.js';
import type { TenantQuotas } from '../stores/platform/quota-store.js';
import type { Tracing } from '../tracing/tracing.js';

/** What the API needs from its process: built by the entry points (src/runtime.ts), handed to every router. */
export interface AppDeps {
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
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
