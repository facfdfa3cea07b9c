/**
 * The integration aggregate as activities and routes see it: loading with decrypted credentials,
 * compiled mappings, and the run bookkeeping that must move together with catalog writes.
 */
import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { sealedColumnConfig } from '../../db/tables/columns.js';
import { erpIntegrations } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { ErpFailureType } from '../../domain/erp/erp-failures.js';
import { compileMapping, MappingCompileError, type CompiledMapping, type MappingEntryInput } from '../../domain/erp/mapping.js';
import { connectorSchema, type ErpConnector } from '../../providers/erp/connector-definition.js';
import type { CredentialCipher } from '../../secrets/credential-cipher.js';

export type IntegrationRow = typeof erpIntegrations.$inferSelect;

/** Settings every integration has (zod-checked by the API). */
export interface IntegrationSettings {
  intervalSeconds?: number;
  warehouse?: string;
  priceList?: string;
  /** Pause the schedule after this many failed runs in a row. */
  pauseAfterFailures?: number;
  /** Values the connector's templates read as settings.* (e.g. baseUrl). */
  [key: string]: unknown;
}

export const DEFAULT_PAUSE_AFTER_FAILURES = 3;

/** The row part of the credentials' associated data, as the column declares it (re-sealing uses the same). */
const boundTo = sealedColumnConfig(erpIntegrations.credentialsCiphertext)!.boundTo;

export function sealIntegrationCredentials(cipher: CredentialCipher, credentials: Record<string, string>, tenantId: string, integrationId: string) {
  const sealed = cipher.seal(credentials, tenantId, boundTo(integrationId));
  return { credentialsCiphertext: sealed.ciphertext, credentialsKeyId: sealed.keyId };
}

export function openIntegrationCredentials(cipher: CredentialCipher, row: IntegrationRow): Record<string, string> {
  if (!row.credentialsCiphertext || !row.credentialsKeyId) return {};
  return cipher.open({ ciphertext: row.credentialsCiphertext, keyId: row.credentialsKeyId }, row.tenantId, boundTo(row.id));
}

/** Throws UnknownCredentialKeyError (409 on the API) when the key that sealed the credentials is not configured. */
export function requireIntegrationKey(cipher: CredentialCipher, row: IntegrationRow): void {
  if (row.credentialsKeyId) cipher.requireKey(row.credentialsKeyId, boundTo(row.id));
}

export async function findIntegration(db: Db, tenantId: string, id: string): Promise<IntegrationRow | undefined> {
  const [row] = await db
    .select()
    .from(erpIntegrations)
    .where(and(eq(erpIntegrations.id, id), eq(erpIntegrations.tenantId, tenantId)));
  return row;
}

export function connectorOf(row: IntegrationRow): ErpConnector {
  return connectorSchema.parse(row.connector);
}

/** The entity's mapping compiled once for a run (or a replay), with the integration's defaults. */
export function mappingOf<E extends ErpEntity>(row: IntegrationRow, entity: E): CompiledMapping<E> | undefined {
  const entries = (row.mappings as Record<string, MappingEntryInput[] | undefined>)[entity];
  if (!entries) return undefined;
  const settings = row.settings as IntegrationSettings;
  return compileMapping(entity, entries, { warehouse: settings.warehouse, priceList: settings.priceList });
}

/** mappingOf for activities: a stored mapping that no longer compiles fails as Misconfigured, not retried (the tenant must fix it). */
export function runnableMapping<E extends ErpEntity>(row: IntegrationRow, entity: E): CompiledMapping<E> | undefined {
  try {
    return mappingOf(row, entity);
  } catch (err) {
    if (!(err instanceof MappingCompileError)) throw err;
    throw ApplicationFailure.nonRetryable(err.message, ErpFailureType.Misconfigured);
  }
}
