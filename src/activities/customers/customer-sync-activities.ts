import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { connections, customers, syncMappings, type PendingPush } from '../../db/schema.js';
import {
  customerMappingKey,
  customerSyncConnections,
  fieldsOf,
  findCustomer,
  insertCustomer,
  lockCustomer,
  recordCustomerSyncFailure,
  recordMergeConflicts,
  syncsCustomers,
  updateCustomer,
  type CustomerRow,
} from '../../stores/customers/customer-store.js';
import {
  changedFields,
  CUSTOMER_FIELDS,
  normalizeFields,
  sameValue,
  type CustomerField,
  type CustomerFields,
} from '../../domain/customers/fields.js';
import { mergeCustomer, remoteSnapshotChangedAt } from '../../domain/customers/merge.js';
import { remoteWriteKey } from '../../domain/customers/remote-write-key.js';
import { CUSTOMERS_CATALOG, customerSyncSettingsOf } from '../../domain/customers/sync-settings.js';
import { FailureType } from '../../domain/failures.js';
import { RemoteVersionConflictError, type CustomerSyncAdapter, type RemoteCustomer } from '../../providers/crm-client.js';
import { GatewayError, InvalidCredentialsError } from '../../providers/types.js';
import type { RemoteCustomerChange } from '../../shared/customer-messages.js';
import { createCustomerReconcileActivities } from './customer-reconcile-activities.js';
import { customerSyncAdapters, toFailure, type CustomerSyncDeps } from './customer-sync-adapters.js';

export type { CustomerSyncDeps } from './customer-sync-adapters.js';

export interface PushInput {
  tenantId: string;
  customerId: string;
  connectionId: string;
}

export interface PushResult {
  /** The local version the remote now reflects (or that failed for good). */
  syncedVersion: number;
  /** The customer changed again meanwhile: push once more. */
  more: boolean;
  failed: boolean;
}

export interface PushAllResult extends PushResult {
  /** How many sync targets the tenant has (none: nothing was pushed, syncedVersion means nothing). */
  targets: number;
}

export interface ApplyRemoteInput extends RemoteCustomerChange {
  tenantId: string;
  customerId: string;
}

export interface ApplyRemoteResult {
  /** The local record changed (other systems need it) or the remote lags the merge. */
  pushNeeded: boolean;
  outcome: 'echo' | 'applied' | 'created' | 'deleted' | 'ignored';
}

type MappingRow = typeof syncMappings.$inferSelect;

/**
 * Writes with a stale version retried with a fresh read at most this many times in one push (a
 * re-read that shows a remote edit to merge ends the push instead: the merge's push follows).
 */
export const MAX_VERSION_CONFLICT_RETRIES = 5;

async function readRemote(adapter: CustomerSyncAdapter, remoteId: string): Promise<RemoteCustomer | null> {
  try {
    return await adapter.retrieve(remoteId);
  } catch (err) {
    throw toFailure(err);
  }
}

/** The remote record differs from the state we last agreed on (an edit there we have not merged). */
function remoteMovedOn(current: RemoteCustomer | null, agreed: CustomerFields): boolean {
  // A record gone at the remote is the update's to find out (and the delete webhook's to apply).
  return current !== null && !current.deleted && !sameValue(current.fields, agreed);
}

/** Still stale after MAX_VERSION_CONFLICT_RETRIES fresh reads: retried by Temporal, never dropped. */
function staleVersionFailure(err: RemoteVersionConflictError): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.Retryable,
    message: `${err.message}; still stale after ${MAX_VERSION_CONFLICT_RETRIES} fresh reads`,
  });
}

/**
 * What both sides agree on after an update: the fields we sent as the remote now has them (it may
 * normalise them), the others as they were agreed before. The remote's answer is not taken whole: a
 * field we did not send that differs in it was edited at the remote meanwhile, and stored as agreed it
 * would look like our own echo and never reach the local record.
 */
export function agreedAfterWrite(before: CustomerFields, sent: CustomerFields, answer: CustomerFields): { snapshot: CustomerFields; movedMeanwhile: boolean } {
  const sentFields = new Set(changedFields(before, sent));
  const snapshot = { ...before } as Record<CustomerField, unknown>;
  let movedMeanwhile = false;
  for (const field of CUSTOMER_FIELDS) {
    if (sentFields.has(field)) snapshot[field] = answer[field];
    else if (!sameValue(answer[field], before[field])) movedMeanwhile = true;
  }
  return { snapshot: snapshot as unknown as CustomerFields, movedMeanwhile };
}

/**
 * Deletes the remote record; with versions, against the version just read (a local delete wins over
 * a remote edit, so a stale version is read again and the delete retried).
 */
async function deleteRemote(adapter: CustomerSyncAdapter, remoteId: string, key: string): Promise<void> {
  if (!adapter.versioned) return adapter.delete(remoteId, key);
  for (let attempt = 0; ; attempt++) {
    const current = await readRemote(adapter, remoteId);
    if (!current || current.deleted) return;
    try {
      return await adapter.delete(remoteId, key, current.version);
    } catch (err) {
      if (!(err instanceof RemoteVersionConflictError)) throw err;
      if (attempt + 1 >= MAX_VERSION_CONFLICT_RETRIES) throw staleVersionFailure(err);
    }
  }
}

const isRejection = (err: unknown) =>
  (err instanceof GatewayError && err.classification === 'hard_decline') ||
  err instanceof InvalidCredentialsError;

/**
 * The customer sync engine's steps, generic over the remote system: everything system-specific is
 * behind the connection's CustomerSyncAdapter.
 */
export function createCustomerSyncActivities(deps: CustomerSyncDeps) {
  const { db } = deps;

  const adapterFor = customerSyncAdapters(deps);

  async function mappingOf(
    tx: Db,
    connectionId: string,
    customerId: string,
    lock = false,
  ): Promise<MappingRow | undefined> {
    const q = tx
      .select()
      .from(syncMappings)
      .where(
        and(
          eq(syncMappings.connectionId, connectionId),
          eq(syncMappings.catalog, CUSTOMERS_CATALOG),
          eq(syncMappings.localId, customerId),
        ),
      );
    const [row] = lock ? await q.for('update') : await q;
    return row;
  }

  async function saveMapping(
    tx: Db,
    id: number,
    values: Partial<typeof syncMappings.$inferInsert>,
  ): Promise<void> {
    await tx
      .update(syncMappings)
      .set({ ...values, updatedAt: new Date() })
      .where(eq(syncMappings.id, id));
  }

  const steps = {
    ...createCustomerReconcileActivities(deps, adapterFor),

    /** The connections that take part in customer sync for the tenant (ids only). */
    async listCustomerSyncTargets(input: { tenantId: string }): Promise<string[]> {
      return (await customerSyncConnections(db, input.tenantId)).map((c) => c.id);
    },

    /**
     * Brings one remote system up to the customer's current version: create, update of the changed
     * fields only, or delete. The intended write is stored on the mapping before the call, so a
     * retry after a crash sends the very same request with the same idempotency key.
     */
    async pushCustomerToRemote(input: PushInput): Promise<PushResult> {
      const { adapter, provider } = await adapterFor(input.tenantId, input.connectionId);
      const plan = await db.transaction(async (tx) => {
        const row = await findCustomer(tx, input.tenantId, input.customerId);
        if (!row) return null;
        let mapping = await mappingOf(tx, input.connectionId, row.id, true);
        if (!mapping) {
          [mapping] = await tx
            .insert(syncMappings)
            .values(customerMappingKey({ tenantId: input.tenantId, id: input.connectionId, provider }, row.id))
            .onConflictDoNothing()
            .returning();
          mapping ??= await mappingOf(tx, input.connectionId, row.id, true);
        }
        if (!mapping) throw new Error('mapping vanished');
        if (mapping.pending) return { row, mapping, pending: mapping.pending };
        if (row.version <= mapping.lastSyncedVersion) return { row, mapping, pending: null };
        const pending: PendingPush = {
          version: row.version,
          snapshot: fieldsOf(row),
          deleted: row.deletedAt !== null,
        };
        await saveMapping(tx, mapping.id, { pending, state: 'pending' });
        return { row, mapping, pending };
      });
      if (!plan) return { syncedVersion: 0, more: false, failed: false };
      const { row, mapping, pending } = plan;
      if (!pending)
        return { syncedVersion: mapping.lastSyncedVersion, more: false, failed: mapping.state === 'failed' };

      const key = remoteWriteKey(row.id, pending.version, input.connectionId);
      let remoteId = mapping.remoteId;
      let snapshot: CustomerFields | null = mapping.lastSyncedSnapshot;
      let remoteDeleted = mapping.remoteDeleted;
      // The remote record showed an edit of a field we did not send, made between our read and write.
      let movedMeanwhile = false;
      try {
        if (pending.deleted) {
          if (remoteId && !remoteDeleted) await deleteRemote(adapter, remoteId, key);
          remoteDeleted = true;
        } else if (!remoteId || remoteDeleted) {
          const created = await adapter.create(pending.snapshot, { localId: row.id, idempotencyKey: key });
          remoteId = created.remoteId;
          snapshot = created.fields;
          remoteDeleted = false;
        } else if (!snapshot || changedFields(snapshot, pending.snapshot).length > 0) {
          const before = snapshot ?? normalizeFields({});
          // With versions the write says which state it was made against: a stale one is refused (409),
          // and the loop reads again. Without, the read just before the write is the best we can do.
          let written: RemoteCustomer | null = null;
          for (let attempt = 0; !written; attempt++) {
            const current = snapshot || adapter.versioned ? await readRemote(adapter, remoteId) : null;
            if (snapshot && remoteMovedOn(current, snapshot)) break;
            // Without a version there is nothing to write against: refused as a write to a gone record is.
            if (adapter.versioned && (!current || current.deleted))
              throw new GatewayError('hard_decline', 'resource_missing', `remote record ${remoteId} is gone`);
            try {
              written = await adapter.update(remoteId, before, pending.snapshot, {
                localId: row.id,
                idempotencyKey: key,
                ...(current?.version !== undefined ? { version: current.version } : {}),
              });
            } catch (err) {
              if (!(err instanceof RemoteVersionConflictError)) throw err;
              if (attempt + 1 >= MAX_VERSION_CONFLICT_RETRIES) throw staleVersionFailure(err);
            }
          }
          if (!written) {
            // An edit made at the remote system since we last agreed, not merged yet: merge it first
            // (field policies decide, a same-field conflict is recorded), then push what remains.
            await saveMapping(db, mapping.id, { pending: null, state: 'pending' });
            await steps.applyRemoteCustomerChange({
              tenantId: input.tenantId,
              customerId: row.id,
              connectionId: input.connectionId,
              eventId: `read-before-${key}`,
              remoteId,
              // The edit happened after the last agreement and before this read; dated at the former,
              // so a local edit made meanwhile counts as the more recent one for `most_recent`.
              occurredAt: (mapping.lastSyncedAt ?? new Date()).getTime(),
            });
            return { syncedVersion: mapping.lastSyncedVersion, more: true, failed: false };
          }
          ({ snapshot, movedMeanwhile } = agreedAfterWrite(before, pending.snapshot, written.fields));
        }
      } catch (err) {
        if (!isRejection(err)) throw toFailure(err);
        // Final: keep the reason (and say so in an event); the next local change tries again.
        const failureReason = err instanceof Error ? err.message : String(err);
        await db.transaction(async (tx) => {
          await saveMapping(tx, mapping.id, { pending: null, state: 'failed', failureReason, lastSyncedVersion: pending.version });
          await recordCustomerSyncFailure(tx, input.tenantId, {
            customerId: row.id,
            version: pending.version,
            connectionId: input.connectionId,
            remoteSystem: provider,
            failureReason,
            at: new Date(),
          });
        });
        return { syncedVersion: pending.version, more: false, failed: true };
      }
      const [current] = await db
        .select({ version: customers.version })
        .from(customers)
        .where(eq(customers.id, row.id));
      let more = (current?.version ?? 0) > pending.version || movedMeanwhile;
      await saveMapping(db, mapping.id, {
        remoteId,
        remoteDeleted,
        lastSyncedSnapshot: snapshot,
        lastSyncedVersion: pending.version,
        lastSyncedAt: new Date(),
        pending: null,
        state: more ? 'pending' : 'in_sync',
        failureReason: null,
      });
      if (movedMeanwhile && remoteId) {
        // A field we did not send moved between our read and our write (a system without versions):
        // merge it now against what we agreed; the next push has nothing of ours to send and would not read.
        const merged = await steps.applyRemoteCustomerChange({
          tenantId: input.tenantId,
          customerId: row.id,
          connectionId: input.connectionId,
          eventId: `read-after-${key}`,
          remoteId,
          occurredAt: Date.now(),
        });
        more = (current?.version ?? 0) > pending.version || merged.pushNeeded;
      }
      return { syncedVersion: pending.version, more, failed: false };
    },

    /**
     * Applies a remote change through the mapping: re-reads the remote record (events arrive out of
     * order and may be stale), drops echoes of our own writes (the record equals the last synced
     * snapshot), and three-way merges anything else against that snapshot. The local row is written
     * without an outbox row: the workflow pushes the merge to the other systems itself.
     */
    async applyRemoteCustomerChange(input: ApplyRemoteInput): Promise<ApplyRemoteResult> {
      const { adapter, provider } = await adapterFor(input.tenantId, input.connectionId);
      let remote: RemoteCustomer | null;
      const readAt = Date.now();
      try {
        remote = await adapter.retrieve(input.remoteId);
      } catch (err) {
        throw toFailure(err);
      }
      const tenantConnections = await db
        .select({ id: connections.id, status: connections.status, settings: connections.settings })
        .from(connections)
        .where(eq(connections.tenantId, input.tenantId));
      const policies =
        customerSyncSettingsOf(tenantConnections.find((c) => c.id === input.connectionId)?.settings ?? {})
          ?.fieldPolicies ?? {};
      // What the source system itself told us needs no push back to it: only to the tenant's other
      // sync targets (the same filter as listCustomerSyncTargets). With none, the workflow skips the
      // listing and the push (two local activities and their activations per remote change).
      const otherTargets = tenantConnections.some(
        (c) => c.id !== input.connectionId && syncsCustomers(c),
      );

      return db.transaction(async (tx): Promise<ApplyRemoteResult> => {
        const row = await lockCustomer(tx, input.tenantId, input.customerId);
        let mapping = await mappingOf(tx, input.connectionId, input.customerId, true);
        if (!remote) {
          // "No such record" about a record we once agreed on is a deletion: many systems answer a
          // deleted record's id with 404, as they do an id that never existed.
          if (!mapping || mapping.remoteId !== input.remoteId || !mapping.lastSyncedSnapshot) return { pushNeeded: false, outcome: 'ignored' };
          remote = { remoteId: input.remoteId, fields: normalizeFields({}), localId: null, deleted: true };
        }
        if (!row) {
          if (remote.deleted) return { pushNeeded: false, outcome: 'ignored' };
          // Created at the remote system: the record is born here from the remote snapshot.
          const created = await insertCustomer(tx, { id: input.customerId, tenantId: input.tenantId, fields: remote.fields });
          const values = {
            remoteId: remote.remoteId,
            lastSyncedVersion: created.version,
            lastSyncedSnapshot: remote.fields,
            lastSyncedAt: new Date(),
            state: 'in_sync' as const,
          };
          if (mapping) await saveMapping(tx, mapping.id, values);
          else
            await tx.insert(syncMappings).values({
              ...customerMappingKey({ tenantId: input.tenantId, id: input.connectionId, provider }, input.customerId),
              ...values,
            });
          return { pushNeeded: otherTargets, outcome: 'created' };
        }
        if (!mapping) {
          [mapping] = await tx
            .insert(syncMappings)
            .values({
              ...customerMappingKey({ tenantId: input.tenantId, id: input.connectionId, provider }, row.id),
              remoteId: remote.remoteId,
            })
            .returning();
        }
        if (!mapping) throw new Error('mapping vanished');
        if (remote.deleted) {
          if (mapping.remoteDeleted) return { pushNeeded: false, outcome: 'echo' };
          const tomb: CustomerRow = row.deletedAt ? row : await updateCustomer(tx, row, { deleted: true });
          await saveMapping(tx, mapping.id, {
            remoteDeleted: true,
            lastSyncedVersion: tomb.version,
            lastSyncedAt: new Date(),
            state: 'in_sync',
            pending: null,
          });
          return { pushNeeded: tomb !== row && otherTargets, outcome: 'deleted' };
        }
        if (mapping.lastSyncedSnapshot && sameValue(remote.fields, mapping.lastSyncedSnapshot))
          return { pushNeeded: false, outcome: 'echo' };
        if (row.deletedAt) return { pushNeeded: true, outcome: 'ignored' }; // a local delete wins over a remote edit

        const result = mergeCustomer({
          // A first match (linked by backfill or a metadata link) has no agreed state yet: an empty
          // base lets a field set on one side only take that value; fields set on both are conflicts.
          base: mapping.lastSyncedSnapshot ?? normalizeFields({}),
          local: fieldsOf(row),
          remote: remote.fields,
          localChangedAt: row.updatedAt.getTime(),
          remoteChangedAt: remoteSnapshotChangedAt({ fields: remote.fields, readAt }, input),
          policies,
        });
        await recordMergeConflicts(tx, row, input.connectionId, result.conflicts);
        const updated = result.localNeedsUpdate
          ? await updateCustomer(tx, row, { fields: result.merged })
          : row;
        // The remote record is now the agreed base; if the merge kept local values, the push sends them.
        const remoteUpToDate = !result.remoteNeedsUpdate;
        await saveMapping(tx, mapping.id, {
          remoteId: remote.remoteId,
          lastSyncedSnapshot: remote.fields,
          lastSyncedAt: new Date(),
          ...(remoteUpToDate
            ? { lastSyncedVersion: updated.version, state: 'in_sync' as const }
            : { state: 'pending' as const }),
        });
        // A push to the source still owed from before (pending or failed) gets its retry as it did.
        const sourceOwed = mapping.pending !== null || mapping.state === 'failed';
        return {
          pushNeeded: (updated !== row && (otherTargets || sourceOwed)) || !remoteUpToDate,
          outcome: 'applied',
        };
      });
    },
  };

  return {
    ...steps,

    /**
     * One push to every sync target in one local activity (the listing and the pushes of a local
     * change cost the workflow one activation, not one per step). Each target gets one push; `more`
     * when any of them saw the customer change again meanwhile (the workflow calls again).
     */
    async pushCustomerToTargets(input: { tenantId: string; customerId: string }): Promise<PushAllResult> {
      const targets = await steps.listCustomerSyncTargets({ tenantId: input.tenantId });
      const result: PushAllResult = {
        targets: targets.length,
        syncedVersion: Number.MAX_SAFE_INTEGER,
        more: false,
        failed: false,
      };
      for (const connectionId of targets) {
        const pushed = await steps.pushCustomerToRemote({ ...input, connectionId });
        result.failed ||= pushed.failed;
        result.more ||= pushed.more;
        result.syncedVersion = Math.min(result.syncedVersion, pushed.syncedVersion);
      }
      return result;
    },
  };
}
