import { ApplicationFailure } from '@temporalio/common';
import { customerSyncSettingsOf, DEFAULT_MAX_REQUESTS_PER_SECOND, type CustomerSyncSettings } from '../../domain/customers/sync-settings.js';
import { FailureType } from '../../domain/failures.js';
import { RemoteRateLimitedError, type CustomerSyncAdapter } from '../../providers/crm-client.js';
import { MissingCapabilityError } from '../../providers/registry.js';
import { GatewayError, InvalidCredentialsError } from '../../providers/types.js';
import type { SignalCustomerSync } from '../../shared/customer-messages.js';
import { connectionPart } from '../connection-clients.js';
import { refusedDestination, type GatewayDeps } from '../load-gateway.js';
import { sharedTokenBucket, throttled } from './throttle.js';

export interface CustomerSyncDeps extends GatewayDeps {
  /** Reconciliation hands the changes it finds to the customers' workflows through this client. */
  customerSignals?: SignalCustomerSync;
}

export interface ConnectedAdapter {
  adapter: CustomerSyncAdapter;
  provider: string;
  /** The connection's sync settings; null when sync is off (pushes and applies still finish what is in flight). */
  settings: CustomerSyncSettings | null;
}

/** Maps adapter errors onto typed failures: throttling waits for Retry-After, rejections and refused destinations are final. */
export function toFailure(err: unknown): unknown {
  if (err instanceof RemoteRateLimitedError) {
    return ApplicationFailure.create({
      type: FailureType.RemoteRateLimited,
      message: err.message,
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  if (err instanceof InvalidCredentialsError) {
    return ApplicationFailure.create({ type: FailureType.InvalidCredentials, message: err.message, nonRetryable: true });
  }
  if (err instanceof GatewayError && err.classification !== 'hard_decline') {
    // Retryable or ambiguous: every write carries its idempotency key, so retrying is safe.
    return ApplicationFailure.create({ type: FailureType.Retryable, message: err.message });
  }
  return refusedDestination(err);
}

/**
 * The adapter of a connection, built by the one connection loader and cached with its client (per
 * credentials, provider definition and settings; decryption stays rare). Every call through it takes
 * a token from the connection's bucket (`settings.customerSync.maxRequestsPerSecond`), kept in
 * Postgres: bulk work and the entity workflows of every worker process together stay under the
 * connection's limit.
 */
export function customerSyncAdapters(deps: GatewayDeps): (tenantId: string, connectionId: string) => Promise<ConnectedAdapter> {
  return async (tenantId, connectionId) => {
    const { part: adapter, row } = await connectionPart(
      deps,
      tenantId,
      connectionId,
      'customers',
      (factory, context) => {
        if (!factory.customerSync) throw new MissingCapabilityError(factory.type, 'customers');
        const ctx = context();
        const rate = customerSyncSettingsOf(ctx.settings)?.maxRequestsPerSecond ?? DEFAULT_MAX_REQUESTS_PER_SECOND;
        return throttled(factory.customerSync.connect(ctx), sharedTokenBucket(deps.db, ctx.connectionId, rate));
      },
      { activeOnly: true },
    );
    return { adapter, provider: row.provider, settings: customerSyncSettingsOf(row.settings) };
  };
}
