/** The egress guard and URL policy as a deployment configures them (one place, for API and worker). */
import type { Env } from '../../config/env.js';
import type { OutboundUrlPolicy } from '../url-policy.js';
import { createEgressFetch, hostAndPort, resolveInternalEndpoints, type EgressFetch } from './egress-fetch.js';

export type EgressSettings = Pick<
  Env,
  | 'ALLOW_PRIVATE_PROVIDER_URLS'
  | 'EGRESS_ALLOWED_HOSTS'
  | 'EGRESS_MAX_RESPONSE_BYTES'
  | 'EGRESS_TIMEOUT_MS'
  | 'TEMPORAL_ADDRESS'
  | 'DATABASE_URL'
>;

export function outboundUrlPolicy(env: EgressSettings): OutboundUrlPolicy {
  return {
    allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS,
    ...(env.EGRESS_ALLOWED_HOSTS ? { allowedHosts: env.EGRESS_ALLOWED_HOSTS } : {}),
  };
}

/** The deployment's Temporal frontend and database, which no tenant URL may reach. */
export function internalTargets(temporalAddress: string, databaseUrl: string | undefined) {
  return [
    { label: 'Temporal', ...hostAndPort(temporalAddress, 7233) },
    ...(databaseUrl ? [{ label: 'database', ...hostAndPort(databaseUrl, 5432) }] : []),
  ];
}

/** Resolves the internal hosts now (at start) and builds the guarded fetch. */
export async function createEgressFromEnv(env: EgressSettings): Promise<EgressFetch> {
  return createEgressFetch({
    ...outboundUrlPolicy(env),
    internalEndpoints: await resolveInternalEndpoints(internalTargets(env.TEMPORAL_ADDRESS, env.DATABASE_URL)),
    maxResponseBytes: env.EGRESS_MAX_RESPONSE_BYTES,
    timeoutMs: env.EGRESS_TIMEOUT_MS,
  });
}
