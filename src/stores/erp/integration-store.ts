/**
 * The integration aggregate, for routes and activities alike: its rows (tenant-scoped), credentials
 * sealed and opened bound to the integration, the definition checks that need more than the domain
 * (outbound URL policy), compiled mappings, and the status changes of pause and resume.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { sealedColumnConfig } from '../../db/tables/columns.js';
import { erpIntegrations } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { IntegrationInvalidError } from '../../domain/erp/integration-rules.js';
import { compileMapping, type CompiledMapping, type MappingEntryInput } from '../../domain/erp/mapping.js';
import { renderString, TemplateError } from '../../domain/template.js';
import { connectorSchema, type ErpConnector } from '../../providers/erp/connector-definition.js';
import { upgradeErpConnector } from '../../providers/erp/connector-format.js';
import { checkOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../../providers/url-policy.js';
import type { CredentialCipher } from '../../secrets/credential-cipher.js';
import { recordEvent, type EventWriter } from '../events/event-store.js';
import { requireRoom, type TenantQuotas } from '../platform/quota-store.js';

export type IntegrationRow = typeof erpIntegrations.$inferSelect;

/** An integration as the API shows it (never its credentials) and as its events carry it. */
export type IntegrationView = {
  id: string;
  object: 'integration';
  name: string;
  type: IntegrationRow['type'];
  status: IntegrationRow['status'];
  pausedReason: string | null;
  consecutiveFailures: number;
  connector: Record<string, unknown>;
  settings: Record<string, unknown>;
  mappings: Record<string, unknown>;
  watermarks: IntegrationRow['watermarks'];
  hasCredentials: boolean;
  createdAt: string;
  updatedAt: string;
};

export function integrationView(row: IntegrationRow): IntegrationView {
  return {
    id: row.id,
    object: 'integration',
    name: row.name,
    type: row.type,
    status: row.status,
    pausedReason: row.pausedReason,
    consecutiveFailures: row.consecutiveFailures,
    connector: row.connector,
    settings: row.settings,
    mappings: row.mappings,
    watermarks: row.watermarks,
    hasCredentials: row.credentialsCiphertext !== null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Records integration.paused for a row just paused (by the tenant or after failed runs), in the pause's transaction. */
export async function recordIntegrationPaused(tx: EventWriter, paused: IntegrationRow): Promise<void> {
  await recordEvent(tx, { tenantId: paused.tenantId, type: 'integration.paused', resource: { type: 'integration', id: paused.id }, data: integrationView(paused) });
}

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

/** What a tenant defines (the API's parsed body); credentials are sealed before they are stored. */
export interface IntegrationDefinition {
  name: string;
  type: IntegrationRow['type'];
  connector: ErpConnector;
  credentials?: Record<string, string>;
  settings: IntegrationSettings;
  mappings: Record<string, unknown>;
}

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
/** Merges credentials the ERP changed (a rotated OAuth2 refresh token) into the integration's, sealed anew under the row lock. */
export async function storeChangedIntegrationCredentials(
  db: Db,
  cipher: CredentialCipher,
  integrationId: string,
  changed: Record<string, string>,
): Promise<void> {
  await db.transaction(async (tx) => {
    const [locked] = await tx.select().from(erpIntegrations).where(eq(erpIntegrations.id, integrationId)).for('update');
    if (!locked) return;
    const current = openIntegrationCredentials(cipher, locked);
    await tx
      .update(erpIntegrations)
      .set(sealIntegrationCredentials(cipher, { ...current, ...changed }, locked.tenantId, integrationId))
      .where(eq(erpIntegrations.id, integrationId));
  });
}

export function requireIntegrationKey(cipher: CredentialCipher, row: IntegrationRow): void {
  if (row.credentialsKeyId) cipher.requireKey(row.credentialsKeyId, boundTo(row.id));
}

/** The tenant's integration, or undefined (also when it belongs to another tenant). */
export async function findIntegration(db: Db, tenantId: string, id: string): Promise<IntegrationRow | undefined> {
  const [row] = await db
    .select()
    .from(erpIntegrations)
    .where(and(eq(erpIntegrations.id, id), eq(erpIntegrations.tenantId, tenantId)));
  return row;
}

/** An integration by id alone, for a webhook delivery (which names no tenant until it is verified). */
export async function findIntegrationById(db: Db, id: string): Promise<IntegrationRow | undefined> {
  const [row] = await db.select().from(erpIntegrations).where(eq(erpIntegrations.id, id));
  return row;
}

/** The tenant's integrations, oldest first. */
export async function listIntegrations(db: Db, tenantId: string): Promise<IntegrationRow[]> {
  return db.select().from(erpIntegrations).where(eq(erpIntegrations.tenantId, tenantId)).orderBy(asc(erpIntegrations.createdAt), asc(erpIntegrations.id));
}

/**
 * URLs the connector will call, checked against the outbound policy at save time as far as they can
 * be rendered without credentials (the worker checks every URL again before it connects). Throws
 * IntegrationInvalidError naming the URL's path in the definition.
 */
export function checkConnectorUrls(connector: ErpConnector, settings: Record<string, unknown>, policy: OutboundUrlPolicy): void {
  const urls: [string, string][] = [];
  if (connector.baseUrl) urls.push(['connector.baseUrl', connector.baseUrl]);
  if (connector.type === 'csv') {
    for (const [entity, stream] of Object.entries(connector.streams)) {
      if (stream?.url && !stream.url.startsWith('/')) urls.push([`connector.streams.${entity}.url`, stream.url]);
    }
  }
  for (const [path, template] of urls) {
    let url: string;
    try {
      url = renderString(template, { settings, credentials: {} });
    } catch (err) {
      if (err instanceof TemplateError && err.variable?.startsWith('credentials')) continue;
      throw new IntegrationInvalidError((at) => `${at}${path} cannot be rendered`, [{ path, message: (err as Error).message }]);
    }
    try {
      checkOutboundUrl(url, policy);
    } catch (err) {
      if (!(err instanceof OutboundUrlError)) throw err;
      throw new IntegrationInvalidError((at) => `${at}${path} is not an allowed URL`, [{ path, message: err.message }]);
    }
  }
}

/**
 * Stores a new integration (the definition already checked) if the tenant has room for one under its
 * quota (QuotaExceededError otherwise); the check and the insert are one transaction under the
 * tenant's quota lock, so concurrent creates cannot overrun it.
 */
export async function createIntegration(
  db: Db,
  cipher: CredentialCipher,
  tenantId: string,
  definition: IntegrationDefinition,
  quotas: TenantQuotas,
): Promise<IntegrationRow> {
  const id = newId('int');
  return db.transaction(async (tx) => {
    await requireRoom(tx, quotas, tenantId, 'erp_integrations');
    const [created] = await tx
      .insert(erpIntegrations)
      .values({
        id,
        tenantId,
        name: definition.name,
        type: definition.type,
        // Stored in the current format version, whichever version was sent.
        connector: upgradeErpConnector(definition.connector as unknown as Record<string, unknown>),
        settings: definition.settings,
        mappings: definition.mappings,
        ...(definition.credentials ? sealIntegrationCredentials(cipher, definition.credentials, tenantId, id) : {}),
      })
      .returning();
    return created!;
  });
}

/**
 * Changes an integration: `edit` gets the row as the change's transaction locked it and answers the
 * parts to change (a PATCH merged onto that row and checked, so two concurrent PATCHes of different
 * keys both land; it may throw to refuse); new credentials replace the old ones. Undefined when the
 * tenant has no such integration.
 */
export async function updateIntegration(
  db: Db,
  cipher: CredentialCipher,
  tenantId: string,
  id: string,
  edit: (locked: IntegrationRow) => Partial<IntegrationDefinition>,
): Promise<{ before: IntegrationRow; after: IntegrationRow } | undefined> {
  return db.transaction(async (tx) => {
    const where = and(eq(erpIntegrations.id, id), eq(erpIntegrations.tenantId, tenantId));
    const [locked] = await tx.select().from(erpIntegrations).where(where).for('update');
    if (!locked) return undefined;
    const change = edit(locked);
    const [row] = await tx
      .update(erpIntegrations)
      .set({
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.type !== undefined ? { type: change.type } : {}),
        ...(change.connector !== undefined ? { connector: upgradeErpConnector(change.connector as unknown as Record<string, unknown>) } : {}),
        ...(change.settings !== undefined ? { settings: change.settings } : {}),
        ...(change.mappings !== undefined ? { mappings: change.mappings } : {}),
        ...(change.credentials ? sealIntegrationCredentials(cipher, change.credentials, tenantId, id) : {}),
        updatedAt: new Date(),
      })
      .where(where)
      .returning();
    return { before: locked, after: row! };
  });
}

/** Deletes an integration; its runs, dead letters, webhook events and uploads go with it (foreign keys). */
export async function deleteIntegration(db: Db, row: IntegrationRow): Promise<void> {
  await db.delete(erpIntegrations).where(and(eq(erpIntegrations.id, row.id), eq(erpIntegrations.tenantId, row.tenantId)));
}

/** Pauses the integration with the reason; integration.paused is recorded when it was active (a paused one only gets the new reason). */
export async function pauseIntegration(db: Db, row: IntegrationRow, reason: string): Promise<IntegrationRow> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ status: erpIntegrations.status }).from(erpIntegrations).where(eq(erpIntegrations.id, row.id)).for('update');
    const [paused] = await tx.update(erpIntegrations).set({ status: 'paused', pausedReason: reason, updatedAt: new Date() }).where(eq(erpIntegrations.id, row.id)).returning();
    if (before?.status === 'active' && paused) await recordIntegrationPaused(tx, paused);
    return paused!;
  });
}

/** Active again, with the failure streak cleared (also after an automatic pause). */
export async function resumeIntegration(db: Db, row: IntegrationRow): Promise<IntegrationRow> {
  const [resumed] = await db
    .update(erpIntegrations)
    .set({ status: 'active', pausedReason: null, consecutiveFailures: 0, updatedAt: new Date() })
    .where(eq(erpIntegrations.id, row.id))
    .returning();
  return resumed!;
}

export function connectorOf(row: IntegrationRow): ErpConnector {
  return connectorSchema.parse(row.connector);
}

/** Whether the connector's stream of `entity` reads uploaded files (`upload: true`). */
export function readsUploads(row: IntegrationRow, entity: ErpEntity): boolean {
  const stream = (connectorOf(row).streams as Record<string, { upload?: true } | undefined>)[entity];
  return stream?.upload === true;
}

/** The entity's mapping compiled once for a run (or a replay), with the integration's defaults. */
export function mappingOf<E extends ErpEntity>(row: IntegrationRow, entity: E): CompiledMapping<E> | undefined {
  const entries = (row.mappings as Record<string, MappingEntryInput[] | undefined>)[entity];
  if (!entries) return undefined;
  const settings = row.settings as IntegrationSettings;
  return compileMapping(entity, entries, { warehouse: settings.warehouse, priceList: settings.priceList });
}
