import { continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { HealthActivities } from '../../activities/payments/health-activities.js';
import { bookkeeping } from '../activity-options.js';

const { listActiveConnectionsPage } =
  proxyActivities<Pick<HealthActivities, 'listActiveConnectionsPage'>>(bookkeeping);
const { checkConnectionsHealth } = proxyActivities<Pick<HealthActivities, 'checkConnectionsHealth'>>({
  // A batch of 100 probes, 20 at a time, each bounded by the gateway client's own timeout.
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

/** Connections per listed page, probes per batch activity, and pages per run before continue-as-new. */
export const HEALTH_PAGE_SIZE = 1000;
export const HEALTH_BATCH_SIZE = 100;
export const HEALTH_PAGES_PER_RUN = 5;

export interface HealthCheckProgress {
  after: string | null;
  checked: number;
  unhealthy: number;
  /** Overrides HEALTH_PAGE_SIZE (tests use small pages to cross several runs). */
  pageSize?: number;
}

/**
 * Started by a Temporal Schedule: probes every active connection's health endpoint. Connections are
 * listed a page at a time and probed in batch activities; every few pages the run continues as new,
 * so 10,000 connections stay far below Temporal's per-run history limits (a run's events grow with
 * pages and batches, not with connections).
 */
export async function healthCheckWorkflow(
  progress?: HealthCheckProgress,
): Promise<{ checked: number; unhealthy: number }> {
  let { after, checked, unhealthy } = progress ?? { after: null, checked: 0, unhealthy: 0 };
  const pageSize = progress?.pageSize ?? HEALTH_PAGE_SIZE;
  for (let page = 0; page < HEALTH_PAGES_PER_RUN; page++) {
    const targets = await listActiveConnectionsPage({ after, limit: pageSize });
    const batches: (typeof targets)[] = [];
    for (let i = 0; i < targets.length; i += HEALTH_BATCH_SIZE)
      batches.push(targets.slice(i, i + HEALTH_BATCH_SIZE));
    const results = await Promise.all(
      batches.map((b) =>
        checkConnectionsHealth({ targets: b }).catch(() => ({ checked: b.length, unhealthy: b.length })),
      ),
    );
    for (const r of results) {
      checked += r.checked;
      unhealthy += r.unhealthy;
    }
    if (targets.length < pageSize) return { checked, unhealthy };
    after = targets.at(-1)!.connectionId;
  }
  // More pages remain: carry on in a fresh run with a short history.
  return continueAsNew<typeof healthCheckWorkflow>({ after, checked, unhealthy, pageSize });
}
