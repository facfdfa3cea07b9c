/**
 * Every column of the schema that holds `CredentialCipher` ciphertext, found by walking the drizzle
 * schema for columns declared with `sealedCredentials` (src/db/tables/columns.ts). The reseal command
 * iterates this, so a table added with a sealed column is rotated without anyone remembering a list.
 */
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable, type PgColumn } from 'drizzle-orm/pg-core';
import * as schema from '../db/schema.js';
import { sealedColumnConfig } from '../db/tables/columns.js';

/** A sealed column with the columns of its table that re-sealing needs. */
export interface SealedTable {
  /** Audit resource type of its rows. */
  resourceType: string;
  table: PgTable;
  id: PgColumn;
  tenantId: PgColumn;
  ciphertext: PgColumn;
  keyId: PgColumn;
  /** The row part of the associated data (the tenant id is the other part). */
  boundTo: (rowId: string) => string;
}

/** The sealed columns among `tables` (any module's exports: values that are not tables are skipped). */
export function sealedTablesOf(tables: Record<string, unknown>): SealedTable[] {
  const found: SealedTable[] = [];
  for (const table of Object.values(tables)) {
    if (!is(table, PgTable)) continue;
    const { name, columns } = getTableConfig(table);
    const named = (sqlName: string): PgColumn => {
      const column = columns.find((c) => c.name === sqlName);
      // A declaration error, found when the module loads rather than when a key is dropped.
      if (!column) throw new Error(`table ${name} has a sealed column but no ${sqlName} column`);
      return column;
    };
    for (const ciphertext of columns) {
      const sealed = sealedColumnConfig(ciphertext);
      if (!sealed) continue;
      found.push({
        resourceType: sealed.resourceType,
        table,
        id: named('id'),
        tenantId: named('tenant_id'),
        ciphertext,
        keyId: named(sealed.keyIdColumn),
        boundTo: sealed.boundTo,
      });
    }
  }
  return found;
}

/** Every sealed column of the database schema. */
export const SEALED_TABLES: readonly SealedTable[] = sealedTablesOf(schema);
