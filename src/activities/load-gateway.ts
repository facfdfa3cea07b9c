import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures.js';
import { providerLabel } from '../metrics/provider-label.js';
import { instrumentGateway } from '../metrics/worker-metrics.js';
import { MissingCapabilityError } from '../providers/registry.js';
import type { PaymentGateway } from '../providers/types.js';
import { OutboundUrlError } from '../providers/url-policy.js';
import { connectionClientPart, unavailable, type GatewayDeps } from './connection-clients.js';

export type { GatewayDeps } from './connection-clients.js';

export interface LoadedGateway {
  gateway: PaymentGateway;
  provider: string;
  code: string;
}

/**
 * The payment gateway of a tenant's connection (see connection-clients.ts). A provider that takes no
 * payments is refused with a non-retryable ConnectionUnavailable naming what it cannot do.
 */
export async function loadGateway(deps: GatewayDeps, tenantId: string, connectionId: string): Promise<LoadedGateway> {
  const { part: client, row } = await connectionClientPart(deps, tenantId, connectionId);
  if (!client.payments) throw unavailable(new MissingCapabilityError(row.provider, 'payments').message);
  return { gateway: instrumentGateway(client.payments, providerLabel(row.provider, deps.providers)), provider: row.provider, code: row.code };
}

/** A destination refused by the egress guard, as the typed failure workflows see; other errors unchanged. */
export function refusedDestination(err: unknown): unknown {
  if (!(err instanceof OutboundUrlError)) return err;
  return ApplicationFailure.create({ type: FailureType.DestinationBlocked, message: err.message, nonRetryable: true });
}
