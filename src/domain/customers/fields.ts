/**
 * The synced fields of a customer, as the platform sees them (remote systems map their own shapes
 * onto these). Pure: used by the API, activities and the sync workflow alike.
 */
export interface CustomerAddress {
  line1: string | null;
  line2: string | null;
  city: string | null;
  postalCode: string | null;
  state: string | null;
  country: string | null;
}

export interface CustomerFields {
  email: string | null;
  name: string | null;
  phone: string | null;
  address: CustomerAddress | null;
  description: string | null;
  metadata: Record<string, string>;
}

export type CustomerField = keyof CustomerFields;

export const CUSTOMER_FIELDS = ['email', 'name', 'phone', 'address', 'description', 'metadata'] as const satisfies readonly CustomerField[];

export const ADDRESS_PARTS = ['line1', 'line2', 'city', 'postalCode', 'state', 'country'] as const satisfies readonly (keyof CustomerAddress)[];

/** An address whose parts are all empty is no address. */
export function normalizeAddress(address: Partial<CustomerAddress> | null | undefined): CustomerAddress | null {
  if (!address) return null;
  const out = Object.fromEntries(ADDRESS_PARTS.map((k) => [k, address[k] || null])) as unknown as CustomerAddress;
  return ADDRESS_PARTS.some((k) => out[k] !== null) ? out : null;
}

/** Empty strings and missing values compare as null, so "" at one side and absent at the other are equal. */
export function normalizeFields(fields: Partial<Omit<CustomerFields, 'address'>> & { address?: Partial<CustomerAddress> | null }): CustomerFields {
  return {
    email: fields.email || null,
    name: fields.name || null,
    phone: fields.phone || null,
    address: normalizeAddress(fields.address),
    description: fields.description || null,
    metadata: { ...(fields.metadata ?? {}) },
  };
}

/** Deep equality of JSON-like values, independent of key order. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  if (ak.length !== bk.length || ak.some((k, i) => k !== bk[i])) return false;
  return ak.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The fields whose values differ between two snapshots, in field order. */
export function changedFields(before: CustomerFields | null, after: CustomerFields): CustomerField[] {
  if (!before) return CUSTOMER_FIELDS.filter((f) => !sameValue(after[f], normalizeFields({})[f]));
  return CUSTOMER_FIELDS.filter((f) => !sameValue(before[f], after[f]));
}
