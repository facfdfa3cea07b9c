import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { connections } from '../db/schema.js';
import { FailureType } from '../domain/failures.js';
import { providerLabel } from '../metrics/provider-label.js';
import { instrumentGateway } from '../metrics/worker-metrics.js';
import { AuthConfigurationError } from '../providers/declarative/outbound-auth.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { PaymentGateway } from '../providers/types.js';
import { OutboundUrlError } from '../providers/url-policy.js';
import { CredentialDecryptionError, type CredentialCipher } from '../secrets/credential-cipher.js';
import { credentialFailure } from '../secrets/credential-failure.js';
import { storeChangedConnectionCredentials } from '../stores/platform/connection-store.js';

export interface GatewayDeps {
  db: Db;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
}

export interface LoadedGateway {
  gateway: PaymentGateway;
  provider: string;
  code: string;
}

/**
 * Builds (or reuses) the gateway client of a tenant's connection. The only place credentials are
 * decrypted; failures are non-retryable and typed, so a workflow can react without parsing messages.
 */
export async function loadGateway(deps: GatewayDeps, tenantId: string, connectionId: string): Promise<LoadedGateway> {
  const [row] = await deps.db
    .select()
    .from(connections)
    .where(and(eq(connections.id, connectionId), eq(connections.tenantId, tenantId)))
    .limit(1);
  if (!row) {
    // Deleted (perhaps through another process's API): drop its client and credentials from memory.
    deps.providers.forget(connectionId);
    throw ApplicationFailure.create({
      type: FailureType.ConnectionUnavailable,
      message: `connection ${connectionId} not found for tenant ${tenantId}`,
      nonRetryable: true,
    });
  }
  try {
    const gateway = await deps.providers.client(
      row,
      () => deps.cipher.open({ keyId: row.credentialsKeyId, ciphertext: row.credentialsCiphertext }, row.tenantId, row.id),
      (changed) => storeChangedConnectionCredentials(deps.db, deps.cipher, row.tenantId, row.id, changed),
    );
    return { gateway: instrumentGateway(gateway, providerLabel(row.provider, deps.providers)), provider: row.provider, code: row.code };
  } catch (err) {
    if (err instanceof CredentialDecryptionError) throw credentialFailure(err);
    if (err instanceof AuthConfigurationError || (err instanceof Error && err.name === 'UnknownProviderError')) {
      throw ApplicationFailure.create({ type: FailureType.ConnectionUnavailable, message: err.message, nonRetryable: true });
    }
    throw err;
  }
}

/** A destination refused by the egress guard, as the typed failure workflows see; other errors unchanged. */
export function refusedDestination(err: unknown): unknown {
  if (!(err instanceof OutboundUrlError)) return err;
  return ApplicationFailure.create({ type: FailureType.DestinationBlocked, message: err.message, nonRetryable: true });
}
