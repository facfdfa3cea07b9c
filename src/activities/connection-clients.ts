/**
 * The one loader of connection clients for activities: loads a tenant's connection, resolves its
 * provider, opens the credentials and builds (or reuses, per clientVersion) the part a family needs,
 * with typed, non-retryable failures a workflow can branch on. The API's webhook route uses the same
 * registry cache (ProviderRegistry.client) with its own error mapping.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/client.js';
import { FailureType } from '../domain/failures.js';
import { providerLabel } from '../metrics/provider-label.js';
import { instrumentGateway } from '../metrics/worker-metrics.js';
import { AuthConfigurationError } from '../providers/declarative/outbound-auth.js';
import { buildConnectionClient, CONNECTION_CLIENT, MissingCapabilityError, UnknownProviderError, type ProviderRegistry } from '../providers/registry.js';
import type { ConnectionClient, ConnectionContext, ProviderFactory } from '../providers/types.js';
import { CredentialDecryptionError, type CredentialCipher } from '../secrets/credential-cipher.js';
import { credentialFailure } from '../secrets/credential-failure.js';
import { connectionCredentials, findConnection, type ConnectionRow } from '../stores/platform/connection-store.js';

/** What loading a connection's client needs: the database, the credential cipher and the providers. */
export interface GatewayDeps {
  db: Db;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
}

/** The non-retryable failure of a connection that cannot serve the call (gone, inactive, lacking the family). */
export function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.ConnectionUnavailable, message, nonRetryable: true });
}

/**
 * The part `name` of a connection's client, built by `build` (which refuses with
 * MissingCapabilityError when the provider lacks the family). `activeOnly` refuses a connection
 * that is not active; a deleted one is forgotten by the registry (its client leaves memory).
 */
export async function connectionPart<P>(
  deps: GatewayDeps,
  tenantId: string,
  connectionId: string,
  name: string,
  build: (factory: ProviderFactory, context: () => ConnectionContext) => P,
  opts: { activeOnly?: boolean } = {},
): Promise<{ part: P; row: ConnectionRow }> {
  const row = await findConnection(deps.db, tenantId, connectionId);
  if (!row) {
    // Deleted (perhaps through another process's API): drop its client and credentials from memory.
    deps.providers.forget(connectionId);
    throw unavailable(`connection ${connectionId} not found for tenant ${tenantId}`);
  }
  if (opts.activeOnly && row.status !== 'active') throw unavailable(`connection ${connectionId} is ${row.status}`);
  try {
    const credentials = connectionCredentials(deps.db, deps.cipher, row);
    const part = await deps.providers.part(row, name, build, credentials.open, credentials.store);
    return { part, row };
  } catch (err) {
    if (err instanceof CredentialDecryptionError) throw credentialFailure(err);
    // No retry helps: the provider is gone, lacks the family, or its auth block cannot work here.
    if (err instanceof MissingCapabilityError || err instanceof UnknownProviderError || err instanceof AuthConfigurationError) {
      throw unavailable(err.message);
    }
    throw err;
  }
}

/** A connection's client (probe, webhooks, payments when declared), as the provider built it. */
export function connectionClientPart(deps: GatewayDeps, tenantId: string, connectionId: string): Promise<{ part: ConnectionClient; row: ConnectionRow }> {
  return connectionPart(deps, tenantId, connectionId, CONNECTION_CLIENT, buildConnectionClient);
}

/** A connection's client, its calls counted in the metrics (connection tests, health checks). */
export async function loadConnectionClient(
  deps: GatewayDeps,
  tenantId: string,
  connectionId: string,
): Promise<{ client: ConnectionClient; row: ConnectionRow }> {
  const { part, row } = await connectionClientPart(deps, tenantId, connectionId);
  return { client: instrumentGateway(part, providerLabel(row.provider, deps.providers)), row };
}
