import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { connections } from '../../db/schema.js';
import type { Credentials } from '../../providers/types.js';
import type { CredentialCipher } from '../../secrets/credential-cipher.js';
import { recordAudit, type ChangedBy } from './audit-event-store.js';
import { requireRoom, type TenantQuotas } from './quota-store.js';

/**
 * A connection: a tenant's account at a provider. Its credentials are sealed at rest, bound to the
 * tenant and the connection's id, and never leave this module in the views it gives out; every
 * change is audited in its own transaction.
 */
export type ConnectionRow = typeof connections.$inferSelect;
export type ConnectionStatus = ConnectionRow['status'];

/** The connection as the API shows it and the audit log records it: never its credentials, only their version and key. */
export interface ConnectionView {
  id: string;
  object: 'connection';
  provider: string;
  code: string;
  name: string;
  status: ConnectionStatus;
  settings: Record<string, unknown>;
  metadata: Record<string, string>;
  credentials: { version: number; keyId: string };
  createdAt: string;
  updatedAt: string;
}

export function connectionView(row: ConnectionRow): ConnectionView {
  return {
    id: row.id,
    object: 'connection',
    provider: row.provider,
    code: row.code,
    name: row.name,
    status: row.status,
    settings: row.settings,
    metadata: row.metadata,
    credentials: { version: row.credentialsVersion, keyId: row.credentialsKeyId },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The connection is not the tenant's (another tenant's is indistinguishable from a missing one). */
export class ConnectionNotFoundError extends Error {
  override readonly name = 'ConnectionNotFoundError';
  constructor(readonly connectionId: string) {
    super(`connection ${connectionId} not found`);
  }
}

/** The tenant already has a connection with this code (unique per tenant). */
export class ConnectionCodeTakenError extends Error {
  override readonly name = 'ConnectionCodeTakenError';
  constructor(readonly code: string) {
    super(`a connection with code "${code}" already exists`);
  }
}

/** The tenant's connection, or undefined. */
export async function findConnection(db: Db, tenantId: string, id: string): Promise<ConnectionRow | undefined> {
  const [row] = await db
    .select()
    .from(connections)
    .where(and(eq(connections.id, id), eq(connections.tenantId, tenantId)));
  return row;
}

/** The tenant's connections, oldest first, optionally of one provider or status. */
export async function listConnections(db: Db, tenantId: string, filter: { provider?: string; status?: ConnectionStatus } = {}): Promise<ConnectionRow[]> {
  return db
    .select()
    .from(connections)
    .where(
      and(
        eq(connections.tenantId, tenantId),
        filter.provider ? eq(connections.provider, filter.provider) : undefined,
        filter.status ? eq(connections.status, filter.status) : undefined,
      ),
    )
    .orderBy(asc(connections.createdAt), asc(connections.id));
}

/** The id of one of the tenant's connections to `provider`, or undefined when none uses it. */
export async function connectionUsingProvider(db: Db, tenantId: string, provider: string): Promise<string | undefined> {
  const [inUse] = await db
    .select({ id: connections.id })
    .from(connections)
    .where(and(eq(connections.tenantId, tenantId), eq(connections.provider, provider)))
    .limit(1);
  return inUse?.id;
}

export interface NewConnection {
  provider: string;
  code: string;
  name: string;
  status?: ConnectionStatus;
  credentials: Credentials;
  settings?: Record<string, unknown>;
  metadata?: Record<string, string>;
}

/**
 * Creates a connection with its credentials sealed, within the tenant's quota (QuotaExceededError)
 * and under a code the tenant does not use yet (ConnectionCodeTakenError).
 */
export async function createConnection(db: Db, cipher: CredentialCipher, quotas: TenantQuotas, by: ChangedBy, input: NewConnection): Promise<ConnectionRow> {
  const id = newId('con');
  const sealed = cipher.seal(input.credentials, by.tenantId, id);
  return db.transaction(async (tx) => {
    await requireRoom(tx, quotas, by.tenantId, 'connections');
    const [created] = await tx
      .insert(connections)
      .values({
        id,
        tenantId: by.tenantId,
        provider: input.provider,
        code: input.code,
        name: input.name,
        status: input.status ?? 'active',
        credentialsCiphertext: sealed.ciphertext,
        credentialsKeyId: sealed.keyId,
        settings: input.settings ?? {},
        metadata: input.metadata ?? {},
      })
      .onConflictDoNothing({ target: [connections.tenantId, connections.code] })
      .returning();
    if (!created) throw new ConnectionCodeTakenError(input.code);
    await recordAudit(tx, { ...by, action: 'connection.created', resourceType: 'connection', resourceId: id, after: connectionView(created) });
    return created;
  });
}

export interface ConnectionChange {
  name?: string;
  /** Replace the credentials entirely (sealed anew, version + 1). */
  credentials?: Credentials;
  status?: ConnectionStatus;
  /**
   * The new settings and metadata from the row as the change's transaction locked it (a JSON Merge
   * Patch applied to it), so two concurrent PATCHes of different keys both land. May throw to refuse.
   */
  merge?: (locked: ConnectionRow) => { settings?: Record<string, unknown>; metadata?: Record<string, string> };
}

/** Changes a connection; `before` is the row as the change's transaction locked it (what the audit records). */
export async function updateConnection(
  db: Db,
  cipher: CredentialCipher,
  by: ChangedBy,
  id: string,
  change: ConnectionChange,
): Promise<{ before: ConnectionRow; after: ConnectionRow }> {
  const sealed = change.credentials ? cipher.seal(change.credentials, by.tenantId, id) : undefined;
  return db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(connections)
      .where(and(eq(connections.id, id), eq(connections.tenantId, by.tenantId)))
      .for('update');
    if (!locked) throw new ConnectionNotFoundError(id);
    const merged = change.merge?.(locked) ?? {};
    const [updated] = await tx
      .update(connections)
      .set({
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(merged.settings !== undefined ? { settings: merged.settings } : {}),
        ...(merged.metadata !== undefined ? { metadata: merged.metadata } : {}),
        ...(change.status !== undefined ? { status: change.status } : {}),
        ...(sealed
          ? {
              credentialsCiphertext: sealed.ciphertext,
              credentialsKeyId: sealed.keyId,
              credentialsVersion: locked.credentialsVersion + 1,
            }
          : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(connections.id, id), eq(connections.tenantId, by.tenantId)))
      .returning();
    await recordAudit(tx, {
      ...by,
      action: 'connection.updated',
      resourceType: 'connection',
      resourceId: id,
      before: connectionView(locked),
      after: connectionView(updated!),
    });
    return { before: locked, after: updated! };
  });
}

/**
 * Merges credentials a provider changed (a rotated OAuth2 refresh token) into the connection's,
 * sealed anew under the row lock so two rotations never lose one; version + 1 rebuilds cached
 * clients with them. No-op when the connection is gone.
 */
export async function storeChangedConnectionCredentials(
  db: Db,
  cipher: CredentialCipher,
  tenantId: string,
  id: string,
  changed: Record<string, string>,
): Promise<void> {
  await db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(connections)
      .where(and(eq(connections.id, id), eq(connections.tenantId, tenantId)))
      .for('update');
    if (!locked) return;
    const current = cipher.open({ keyId: locked.credentialsKeyId, ciphertext: locked.credentialsCiphertext }, tenantId, id);
    const sealed = cipher.seal({ ...current, ...changed }, tenantId, id);
    await tx
      .update(connections)
      .set({
        credentialsCiphertext: sealed.ciphertext,
        credentialsKeyId: sealed.keyId,
        credentialsVersion: locked.credentialsVersion + 1,
        updatedAt: new Date(),
      })
      .where(eq(connections.id, id));
  });
}

/**
 * How a connection's client reaches its sealed credentials: `open` decrypts them (throws
 * CredentialDecryptionError), `store` seals back the ones a provider rotated. Every loader of a
 * connection client passes these to ProviderRegistry.
 */
export function connectionCredentials(
  db: Db,
  cipher: CredentialCipher,
  row: Pick<ConnectionRow, 'id' | 'tenantId' | 'credentialsKeyId' | 'credentialsCiphertext'>,
): { open: () => Credentials; store: (changed: Record<string, string>) => Promise<void> } {
  return {
    open: () => cipher.open({ keyId: row.credentialsKeyId, ciphertext: row.credentialsCiphertext }, row.tenantId, row.id),
    store: (changed) => storeChangedConnectionCredentials(db, cipher, row.tenantId, row.id, changed),
  };
}

/** Deletes a connection (its credentials with it) and returns the row it was. */
export async function deleteConnection(db: Db, by: ChangedBy, id: string): Promise<ConnectionRow> {
  return db.transaction(async (tx) => {
    const [deleted] = await tx
      .delete(connections)
      .where(and(eq(connections.id, id), eq(connections.tenantId, by.tenantId)))
      .returning();
    if (!deleted) throw new ConnectionNotFoundError(id);
    await recordAudit(tx, { ...by, action: 'connection.deleted', resourceType: 'connection', resourceId: deleted.id, before: connectionView(deleted) });
    return deleted;
  });
}
