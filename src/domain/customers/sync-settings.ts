import { z } from 'zod';
import { CUSTOMER_FIELDS } from './fields.js';
import { FIELD_POLICIES } from './merge.js';

/** The catalog name customers are synced under (mappings and conflicts are keyed by catalog). */
export const CUSTOMERS_CATALOG = 'customers';

/** Stripe's test-mode limit (live mode allows 100 reads and 100 writes per second). */
export const DEFAULT_MAX_REQUESTS_PER_SECOND = 25;
export const DEFAULT_RECONCILE_INTERVAL_SECONDS = 3600;

/** `settings.customerSync` of a connection: whether it takes part, how conflicts are decided, how bulk work runs. */
export const customerSyncSettingsSchema = z.strictObject({
  enabled: z.boolean(),
  fieldPolicies: z.partialRecord(z.enum(CUSTOMER_FIELDS), z.enum(FIELD_POLICIES)).default({}),
  /** Backfill and reconciliation link an unlinked remote record to the local customer with the same email. */
  matchByEmail: z.boolean().default(false),
  /** Calls per second this connection's adapter makes, all workers together (token bucket in Postgres; bursts up to this many). */
  maxRequestsPerSecond: z.number().positive().max(1000).default(DEFAULT_MAX_REQUESTS_PER_SECOND),
  /** How often the scheduled reconciliation (missed events + drift) runs. */
  reconcileIntervalSeconds: z.number().int().min(60).max(7 * 86_400).default(DEFAULT_RECONCILE_INTERVAL_SECONDS),
});
export type CustomerSyncSettings = z.output<typeof customerSyncSettingsSchema>;

/**
 * The connection's sync settings; null when customer sync is off. The API refuses malformed settings
 * ({@link customerSyncSettingsIssues}), so an unparseable value here predates that check: it counts as off.
 */
export function customerSyncSettingsOf(settings: Record<string, unknown>): CustomerSyncSettings | null {
  const parsed = customerSyncSettingsSchema.safeParse(settings['customerSync']);
  return parsed.success && parsed.data.enabled ? parsed.data : null;
}

/** Why `settings.customerSync` is malformed (path relative to it), or [] when absent or valid. */
export function customerSyncSettingsIssues(settings: Record<string, unknown>): { path: string; message: string }[] {
  if (settings['customerSync'] === undefined) return [];
  const parsed = customerSyncSettingsSchema.safeParse(settings['customerSync']);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => ({ path: ['customerSync', ...i.path.map(String)].join('.'), message: i.message }));
}
