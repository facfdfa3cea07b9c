import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ConnectionActivities, ConnectionRef } from '../activities/connection-activities.js';
import { providerCheck } from './activity-options.js';
import { waitingForTenantShare } from './wait-for-tenant-share.js';

const { verifyConnectionCredentials } = waitingForTenantShare(proxyActivities<Pick<ConnectionActivities, 'verifyConnectionCredentials'>>(providerCheck));

export type ConnectionTestResult =
  | { ok: true; provider: string; account: string }
  | { ok: false; code: string; message: string };

/** Checks a connection's credentials against its provider, visibly in the Temporal UI. */
export async function connectionTestWorkflow(ref: ConnectionRef): Promise<ConnectionTestResult> {
  try {
    const { provider, account } = await verifyConnectionCredentials(ref);
    return { ok: true, provider, account };
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      return { ok: false, code: err.cause.type ?? 'Unknown', message: err.cause.message };
    }
    throw err;
  }
}
