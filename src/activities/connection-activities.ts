import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures.js';
import { GatewayError, InvalidCredentialsError } from '../providers/types.js';
import { loadConnectionClient } from './connection-clients.js';
import { refusedDestination, type GatewayDeps } from './load-gateway.js';

export interface ConnectionRef {
  tenantId: string;
  connectionId: string;
}

export function createConnectionActivities(deps: GatewayDeps) {
  return {
    /** Asks the provider whether the connection's credentials work. */
    async verifyConnectionCredentials(ref: ConnectionRef): Promise<{ account: string; provider: string }> {
      const { client, row } = await loadConnectionClient(deps, ref.tenantId, ref.connectionId);
      try {
        const { account } = await client.verifyCredentials();
        return { account, provider: row.provider };
      } catch (err) {
        if (err instanceof InvalidCredentialsError) {
          throw ApplicationFailure.create({ type: FailureType.InvalidCredentials, message: err.message, nonRetryable: true });
        }
        if (err instanceof GatewayError && err.classification === 'hard_decline') {
          throw ApplicationFailure.create({ type: FailureType.InvalidCredentials, message: err.message, nonRetryable: true });
        }
        throw refusedDestination(err);
      }
    },
  };
}

export type ConnectionActivities = ReturnType<typeof createConnectionActivities>;
