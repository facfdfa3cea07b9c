import { and, asc, eq, getTableColumns, gt, ne } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client.js';
import { recordAudit } from './audit-event-store.js';
import { CredentialDecryptionError, type CredentialCipher } from '../../secrets/credential-cipher.js';
import { SEALED_TABLES, type SealedTable } from '../../secrets/sealed-columns.js';

export interface ResealProgress {
  resourceType: string;
  /** Rows now sealed with the active key by this run. */
  resealed: number;
  /** Rows that could not be opened (key missing, tampered); listed by id, left as they are. */
  failed: { id: string; reason: string }[];
}

export interface ResealReport {
  activeKeyId: string;
  tables: ResealProgress[];
}

/** The drizzle property name of a column, for `update().set()` on a table only known at run time. */
function propertyOf(table: PgTable, column: PgColumn): string {
  const entry = Object.entries(getTableColumns(table)).find(([, c]) => c === column);
  if (!entry) throw new Error(`column ${column.name} is not a column of the table it is listed with`);
  return entry[0];
}

/**
 * Re-seals every credential not sealed with the cipher's active key, in every sealed column of the
 * schema (SEALED_TABLES), in batches of `batchSize`, one transaction per batch. Safe to rerun (rows already on the active key are not touched) and to run
 * concurrently (`FOR UPDATE SKIP LOCKED`: two runs split the rows instead of waiting or double-writing;
 * the update also compares the key id it read). After a run that reports no failures, every key but
 * the first can be dropped from CREDENTIALS_KEYS.
 */
export async function resealCredentials(
  db: Db,
  cipher: CredentialCipher,
  opts: { batchSize?: number; tables?: readonly SealedTable[]; onProgress?: (p: ResealProgress) => void } = {},
): Promise<ResealReport> {
  const batchSize = opts.batchSize ?? 200;
  const report: ResealReport = { activeKeyId: cipher.activeKeyId, tables: [] };
  for (const t of opts.tables ?? SEALED_TABLES) {
    const progress: ResealProgress = { resourceType: t.resourceType, resealed: 0, failed: [] };
    const ciphertextProp = propertyOf(t.table, t.ciphertext);
    const keyIdProp = propertyOf(t.table, t.keyId);
    let after = '';
    for (;;) {
      const batch = await db.transaction(async (tx) => {
        const rows = (await tx
          .select({ id: t.id, tenantId: t.tenantId, ciphertext: t.ciphertext, keyId: t.keyId })
          .from(t.table)
          .where(and(ne(t.keyId, cipher.activeKeyId), gt(t.id, after)))
          .orderBy(asc(t.id))
          .limit(batchSize)
          .for('update', { skipLocked: true })) as { id: string; tenantId: string; ciphertext: Buffer; keyId: string }[];
        for (const row of rows) {
          let plain: Record<string, string>;
          try {
            plain = cipher.open({ keyId: row.keyId, ciphertext: row.ciphertext }, row.tenantId, t.boundTo(row.id));
          } catch (err) {
            if (!(err instanceof CredentialDecryptionError)) throw err;
            progress.failed.push({ id: row.id, reason: err.message });
            continue;
          }
          const sealed = cipher.seal(plain, row.tenantId, t.boundTo(row.id));
          await tx
            .update(t.table)
            .set({ [ciphertextProp]: sealed.ciphertext, [keyIdProp]: sealed.keyId } as never)
            .where(and(eq(t.id, row.id), eq(t.keyId, row.keyId)));
          await recordAudit(tx, {
            tenantId: row.tenantId,
            actor: { type: 'admin' },
            action: `${t.resourceType}.credentials_resealed`,
            resourceType: t.resourceType,
            resourceId: row.id,
            before: { credentials: { keyId: row.keyId } },
            after: { credentials: { keyId: sealed.keyId } },
          });
          progress.resealed += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.id;
      opts.onProgress?.({ ...progress, failed: [...progress.failed] });
      if (batch.length < batchSize) break;
    }
    report.tables.push(progress);
  }
  return report;
}
