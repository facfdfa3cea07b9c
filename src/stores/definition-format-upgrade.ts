/**
 * The data migration of the definition format (src/providers/declarative/format-version.ts): tenant
 * provider definitions and ERP integration connectors stored in format version 1 are rewritten to
 * version 2. A drizzle SQL migration cannot run the TypeScript upgrade, so this pass runs right after
 * the SQL migrations, wherever they run (API and worker start-up, `npm run migrate`).
 *
 * Idempotent and cheap when done (it selects only rows still in version 1), so it runs at every start:
 * a row an older instance wrote during a rolling deploy is upgraded by the next start. One transaction,
 * which first upserts its row in `data_upgrades` (migration 0015): a second process starting at the
 * same time waits on that row's lock, then finds nothing left. A failure rolls every row back and the
 * next start tries again. The rows' `updated_at` is kept: the upgraded text means exactly what the
 * stored one did (the parsed definitions are equal).
 */
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { erpIntegrations, providerDefinitions } from '../db/schema.js';
import { upgradeProviderDefinition } from '../providers/declarative/format-version.js';
import { upgradeErpConnector } from '../providers/erp/connector-format.js';

/** The name this pass is recorded under. */
export const DEFINITION_FORMAT_UPGRADE = 'definition-format-v2';

/** Rows upgraded by this call (0 and 0 once every stored definition is in version 2). */
export async function upgradeStoredDefinitions(db: Db): Promise<{ providerDefinitions: number; erpConnectors: number }> {
  return db.transaction(async (tx) => {
    // Taking the record's row lock first serialises concurrent passes.
    await tx.execute(
      sql`insert into data_upgrades (name, rows_changed) values (${DEFINITION_FORMAT_UPGRADE}, 0) on conflict (name) do update set applied_at = now()`,
    );
    const v1 = (column: typeof providerDefinitions.definition | typeof erpIntegrations.connector) =>
      or(isNull(sql`${column}->'formatVersion'`), eq(sql`${column}->'formatVersion'`, sql`'1'::jsonb`));
    const definitions = await tx.select().from(providerDefinitions).where(v1(providerDefinitions.definition)).for('update');
    for (const row of definitions) {
      await tx
        .update(providerDefinitions)
        .set({ definition: upgradeProviderDefinition(row.definition) })
        .where(and(eq(providerDefinitions.tenantId, row.tenantId), eq(providerDefinitions.name, row.name)));
    }
    const integrations = await tx.select({ id: erpIntegrations.id, connector: erpIntegrations.connector }).from(erpIntegrations).where(v1(erpIntegrations.connector)).for('update');
    for (const row of integrations) {
      await tx.update(erpIntegrations).set({ connector: upgradeErpConnector(row.connector) }).where(eq(erpIntegrations.id, row.id));
    }
    await tx.execute(
      sql`update data_upgrades set rows_changed = rows_changed + ${definitions.length + integrations.length} where name = ${DEFINITION_FORMAT_UPGRADE}`,
    );
    return { providerDefinitions: definitions.length, erpConnectors: integrations.length };
  });
}
