import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { tenants } from '../../db/schema.js';
import { insertApiKey } from './api-key-store.js';
import { recordAudit } from './audit-event-store.js';

/** A tenant: the owner of every other resource, created by the operator (admin token) with its first API key. */
export type TenantRow = typeof tenants.$inferSelect;

/** A tenant as the API shows it and the audit log records it. */
export interface TenantView {
  id: string;
  object: 'tenant';
  name: string;
  createdAt: string;
}

export function tenantView(row: TenantRow): TenantView {
  return { id: row.id, object: 'tenant', name: row.name, createdAt: row.createdAt.toISOString() };
}

/** Creates a tenant and its first (full-scope) API key, both audited as the admin's; the key is returned this once. */
export async function createTenant(db: Db, input: { name: string }): Promise<{ tenant: TenantRow; apiKey: string }> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(tenants).values({ id: newId('ten'), name: input.name }).returning();
    const by = { tenantId: row!.id, actor: { type: 'admin' } } as const;
    await recordAudit(tx, { ...by, action: 'tenant.created', resourceType: 'tenant', resourceId: row!.id, after: tenantView(row!) });
    const { apiKey } = await insertApiKey(tx, by);
    return { tenant: row!, apiKey };
  });
}

/** The tenant, or undefined. */
export async function findTenant(db: Db, id: string): Promise<TenantRow | undefined> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row;
}
