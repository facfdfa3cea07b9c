import { proxyActivities } from '@temporalio/workflow';
import type { HealthActivities } from '../activities/health-activities.js';
import { bookkeeping, providerCheck } from './activity-options.js';

const { listActiveConnections } = proxyActivities<HealthActivities>(bookkeeping);
const { checkConnectionHealth } = proxyActivities<HealthActivities>({
  ...providerCheck,
  retry: { ...providerCheck.retry, maximumAttempts: 1 },
});

/** Started by a Temporal Schedule: probes every active connection's health endpoint in parallel. */
export async function healthCheckWorkflow(): Promise<{ checked: number; unhealthy: number }> {
  const targets = await listActiveConnections();
  const results = await Promise.all(targets.map((t) => checkConnectionHealth(t).catch(() => ({ ok: false }))));
  return { checked: results.length, unhealthy: results.filter((r) => !r.ok).length };
}
