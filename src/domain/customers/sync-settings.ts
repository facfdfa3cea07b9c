import { z } from 'zod';
import { CUSTOMER_FIELDS } from './fields.js';
import { FIELD_POLICIES } from './merge.js';

/** The catalog name customers are synced under (mappings and conflicts are keyed by catalog). */
export const CUSTOMERS_CATALOG = 'customers';

/** `settings.customerSync` of a connection: whether it takes part, and how conflicts are decided. */
export const customerSyncSettingsSchema = z.strictObject({
  enabled: z.boolean(),
  fieldPolicies: z.partialRecord(z.enum(CUSTOMER_FIELDS), z.enum(FIELD_POLICIES)).default({}),
});
export type CustomerSyncSettings = z.output<typeof customerSyncSettingsSchema>;

/** The connection's sync settings; null when customer sync is off or the settings are unusable. */
export function customerSyncSettingsOf(settings: Record<string, unknown>): CustomerSyncSettings | null {
  const parsed = customerSyncSettingsSchema.safeParse(settings['customerSync']);
  return parsed.success && parsed.data.enabled ? parsed.data : null;
}
