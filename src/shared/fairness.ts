/**
 * Temporal task-queue fairness, shared by the API (workflow starts), the schedules and the workflows
 * (children started for another tenant). The server dispatches the tasks of different fairness keys
 * in proportion to their weights (all 1 here), so a tenant with a thousand queued tasks does not hold
 * back a tenant with one. Needs fairness on in the server (`matching.enableFairness`, see
 * docs/tenancy.md); without it the key is carried and ignored.
 */
export interface FairPriority {
  fairnessKey: string;
}

/** The key of the platform's own runs (health checks, the reconciliation sweep). */
export const PLATFORM_PRIORITY: FairPriority = { fairnessKey: 'platform' };

/** A tenant's runs (and, by inheritance, their activities and children) share one fairness key. */
export function tenantPriority(tenantId: string): FairPriority {
  return { fairnessKey: tenantId };
}
