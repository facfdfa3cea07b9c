import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { providerDefinitions } from '../../db/schema.js';
import { recordAudit, type ChangedBy } from './audit-event-store.js';
import { connectionUsingProvider } from './connection-store.js';
import { requireRoom, type TenantQuotas } from './quota-store.js';

export interface StoredProviderDefinition {
  definition: Record<string, unknown>;
  updatedAt: Date;
}

/** A tenant's own declarative provider definition, or null. */
export async function findProviderDefinition(db: Db, tenantId: string, name: string): Promise<StoredProviderDefinition | null> {
  const [row] = await db
    .select({ definition: providerDefinitions.definition, updatedAt: providerDefinitions.updatedAt })
    .from(providerDefinitions)
    .where(and(eq(providerDefinitions.tenantId, tenantId), eq(providerDefinitions.name, name)));
  return row ?? null;
}

/**
 * Declarative providers a tenant adds with zero code (docs/declarative-providers.md): one definition
 * per name and tenant, audited on every change.
 */
export type ProviderDefinitionRow = typeof providerDefinitions.$inferSelect;

/** The provider is not one of the tenant's own. */
export class ProviderDefinitionNotFoundError extends Error {
  override readonly name = 'ProviderDefinitionNotFoundError';
  constructor(readonly providerName: string) {
    super(`provider ${providerName} not found`);
  }
}

/** A provider still used by a connection cannot be removed. */
export class ProviderInUseError extends Error {
  override readonly name = 'ProviderInUseError';
  constructor(
    readonly providerName: string,
    readonly connectionId: string,
  ) {
    super(`provider "${providerName}" is used by connection ${connectionId}`);
  }
}

/** The tenant's own declarative providers. */
export async function listProviderDefinitions(db: Db, tenantId: string): Promise<ProviderDefinitionRow[]> {
  return db.select().from(providerDefinitions).where(eq(providerDefinitions.tenantId, tenantId));
}

/**
 * Adds or replaces one of the tenant's providers, stored as written (defaults are applied again when
 * it is loaded). Adding one counts against the tenant's quota (QuotaExceededError); replacing one is
 * always allowed.
 */
export async function putProviderDefinition(
  db: Db,
  quotas: TenantQuotas,
  by: ChangedBy,
  name: string,
  definition: Record<string, unknown>,
): Promise<ProviderDefinitionRow> {
  const now = new Date();
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(providerDefinitions)
      .where(and(eq(providerDefinitions.tenantId, by.tenantId), eq(providerDefinitions.name, name)))
      .for('update');
    if (!before) await requireRoom(tx, quotas, by.tenantId, 'provider_definitions');
    const [stored] = await tx
      .insert(providerDefinitions)
      .values({ tenantId: by.tenantId, name, definition })
      .onConflictDoUpdate({ target: [providerDefinitions.tenantId, providerDefinitions.name], set: { definition, updatedAt: now } })
      .returning();
    await recordAudit(tx, {
      ...by,
      action: before ? 'provider.updated' : 'provider.created',
      resourceType: 'provider',
      resourceId: name,
      ...(before ? { before: { definition: before.definition } } : {}),
      after: { definition },
    });
    return stored!;
  });
}

/** Removes one of the tenant's providers; refused while a connection uses it (ProviderInUseError). */
export async function deleteProviderDefinition(db: Db, by: ChangedBy, name: string): Promise<void> {
  const inUse = await connectionUsingProvider(db, by.tenantId, name);
  if (inUse) throw new ProviderInUseError(name, inUse);
  await db.transaction(async (tx) => {
    const [deleted] = await tx
      .delete(providerDefinitions)
      .where(and(eq(providerDefinitions.tenantId, by.tenantId), eq(providerDefinitions.name, name)))
      .returning();
    if (!deleted) throw new ProviderDefinitionNotFoundError(name);
    await recordAudit(tx, { ...by, action: 'provider.deleted', resourceType: 'provider', resourceId: name, before: { definition: deleted.definition } });
  });
}
