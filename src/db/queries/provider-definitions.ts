import { and, eq } from 'drizzle-orm';
import type { Db } from '../client.js';
import { providerDefinitions } from '../schema.js';

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
