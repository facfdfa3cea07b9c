import { is } from 'drizzle-orm';
import { bigint, customType, PgCustomColumn, timestamp, type CustomTypeParams, type PgColumn } from 'drizzle-orm/pg-core';

/** Column helpers every table module uses, so a timestamp or an amount means the same everywhere. */
export const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

export const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
export const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
export const money = (name: string) => bigint(name, { mode: 'number' });

/**
 * What a sealed column declares about itself, so the reseal command (src/secrets/sealed-columns.ts)
 * finds every ciphertext in the schema instead of a hand-kept list. Its table must have `id` and
 * `tenant_id` columns: the ciphertext is bound to (tenant id, `boundTo(id)`) as associated data.
 */
export interface SealedColumnConfig {
  /** Audit resource type of the table's rows (`connection`, `integration`). */
  resourceType: string;
  /** SQL name of the column beside it that holds the id of the key that sealed it. */
  keyIdColumn: string;
  /** The row part of the associated data, built from the row's id. */
  boundTo: (rowId: string) => string;
}

type SealedType<D> = { data: Buffer; driverData: D; config: SealedColumnConfig; configRequired: true };
/** `CredentialCipher` ciphertext stored as bytea. */
const sealedBytesType: CustomTypeParams<SealedType<Buffer | Uint8Array>> = {
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
};
/** The same ciphertext stored as base64 text (a column created as text before this type existed). */
const sealedBase64Type: CustomTypeParams<SealedType<string>> = {
  dataType: () => 'text',
  toDriver: (v) => v.toString('base64'),
  fromDriver: (v) => Buffer.from(v, 'base64'),
};
const sealedBytes = customType(sealedBytesType);
const sealedBase64 = customType(sealedBase64Type);

/**
 * A column holding `CredentialCipher` ciphertext. Every such column must be declared with this, which
 * is what puts it under key rotation; test/tenancy/encrypted-columns.test.ts fails for one that is not.
 */
export function sealedCredentials(name: string, config: SealedColumnConfig & { storage: 'bytea' | 'base64' }) {
  const { storage, ...declared } = config;
  return storage === 'bytea' ? sealedBytes(name, declared) : sealedBase64(name, declared);
}

/** The declaration of a column made by {@link sealedCredentials}; undefined for any other column. */
export function sealedColumnConfig(column: PgColumn): SealedColumnConfig | undefined {
  if (!is(column, PgCustomColumn)) return undefined;
  // drizzle keeps a custom column's type parameters and field config on its (protected) runtime config;
  // test/tenancy/encrypted-columns.test.ts fails if a drizzle upgrade moves them.
  const { config } = column as unknown as { config: { customTypeParams?: unknown; fieldConfig?: SealedColumnConfig } };
  const { customTypeParams, fieldConfig } = config;
  return customTypeParams === sealedBytesType || customTypeParams === sealedBase64Type ? fieldConfig : undefined;
}
