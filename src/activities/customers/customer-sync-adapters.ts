import { ApplicationFailure } from '@temporalio/common';
import { customerSyncSettingsOf, DEFAULT_MAX_REQUESTS_PER_SECOND, type CustomerSyncSettings } from '../../domain/customers/sync-settings.js';
import { FailureType } from '../../domain/failures.js';
import { RemoteRateLimitedError, type CustomerSyncAdapter } from '../../providers/crm-client.js';
import { AuthConfigurationError } from '../../providers/declarative/outbound-auth.js';
import { GatewayError, InvalidCredentialsError } from '../../providers/types.js';
import { CredentialDecryptionError } from '../../secrets/credential-cipher.js';
import { credentialFailure } from '../../secrets/credential-failure.js';
import type { SignalCustomerSync } from '../../shared/customer-messages.js';
import { clientVersion } from '../../providers/registry.js';
import { findConnection, storeChangedConnectionCredentials } from '../../stores/platform/connection-store.js';
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
 * The adapter of a connection, cached per connection, credentials, provider definition and settings (decryption stays
 * rare, as for gateways). Every call through it takes a token from the connection's bucket
 * (`settings.customerSync.maxRequestsPerSecond`), kept in Postgres: bulk work and the entity
 * workflows of every worker process together stay under the connection's limit.
 */
export function customerSyncAdapters(deps: GatewayDeps): (tenantId: string, connectionId: string) => Promise<ConnectedAdapter> {
  const cache = new Map<string, { version: string; adapter: CustomerSyncAdapter }>();
  return async (tenantId, connectionId) => {
    const row = await findConnection(deps.db, tenantId, connectionId);
    const resolved = row ? await deps.providers.resolve(tenantId, row.provider) : undefined;
    const factory = resolved?.factory;
    if (!row || row.status !== 'active' || !factory?.customerSync) {
      throw ApplicationFailure.create({ type: FailureType.ConnectionUnavailable, message: `connection ${connectionId} cannot sync customers`, nonRetryable: true });
    }
    const settings = customerSyncSettingsOf(row.settings);
    const rate = settings?.maxRequestsPerSecond ?? DEFAULT_MAX_REQUESTS_PER_SECOND;
    const version = clientVersion(row.credentialsVersion, resolved!.version, row.settings);
    const cached = cache.get(row.id);
    if (cached?.version === version) return { adapter: cached.adapter, provider: row.provider, settings };
    let credentials;
    try {
      credentials = deps.cipher.open({ keyId: row.credentialsKeyId, ciphertext: row.credentialsCiphertext }, row.tenantId, row.id);
    } catch (err) {
      if (!(err instanceof CredentialDecryptionError)) throw err;
      throw credentialFailure(err);
    }
    let raw;
    try {
      raw = factory.customerSync.connect({
        tenantId,
        connectionId,
        credentials,
        settings: row.settings,
        storeCredentials: (changed) => storeChangedConnectionCredentials(deps.db, deps.cipher, tenantId, connectionId, changed),
      });
    } catch (err) {
      // The auth block cannot work for this connection (e.g. its setting names no select option): no retry helps.
      if (err instanceof AuthConfigurationError) throw ApplicationFailure.create({ type: FailureType.ConnectionUnavailable, message: err.message, nonRetryable: true });
      throw err;
    }
    const adapter = throttled(raw, sharedTokenBucket(deps.db, row.id, rate));
    cache.set(row.id, { version, adapter });
    return { adapter, provider: row.provider, settings };
  };
}
