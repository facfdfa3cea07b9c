import { CUSTOMER_FIELDS, sameValue, type CustomerField, type CustomerFields } from './fields.js';

/** How a field changed on both sides is decided; set per field per connection (settings.customerSync.fieldPolicies). */
export type FieldPolicy = 'most_recent' | 'local_wins' | 'remote_wins';
export const FIELD_POLICIES = ['most_recent', 'local_wins', 'remote_wins'] as const satisfies readonly FieldPolicy[];

export interface FieldConflict {
  field: CustomerField;
  base: unknown;
  local: unknown;
  remote: unknown;
  policy: FieldPolicy;
  decision: 'local' | 'remote';
}

export interface MergeInput {
  /** The last state both sides agreed on; null when they never did (a first match). */
  base: CustomerFields | null;
  local: CustomerFields;
  remote: CustomerFields;
  /** When each side last changed (epoch ms): decides `most_recent`. */
  localChangedAt: number;
  remoteChangedAt: number;
  policies: Partial<Record<CustomerField, FieldPolicy>>;
}

export interface MergeResult {
  merged: CustomerFields;
  conflicts: FieldConflict[];
  /** The merge differs from the local record: write it locally. */
  localNeedsUpdate: boolean;
  /** The merge differs from the remote record: push it. */
  remoteNeedsUpdate: boolean;
}

/**
 * Three-way merge per field: a field changed on one side only takes that side's value; a field
 * changed on both sides to different values is a conflict, decided by the field's policy (default:
 * the most recent change wins; a tie goes to the local side, the catalog of record).
 */
export function mergeCustomer(input: MergeInput): MergeResult {
  const merged = { ...input.local } as Record<CustomerField, unknown>;
  const conflicts: FieldConflict[] = [];
  for (const field of CUSTOMER_FIELDS) {
    const base = input.base?.[field];
    const local = input.local[field];
    const remote = input.remote[field];
    if (sameValue(local, remote)) continue;
    const localChanged = !input.base || !sameValue(base, local);
    const remoteChanged = !input.base || !sameValue(base, remote);
    if (!localChanged) {
      merged[field] = remote;
      continue;
    }
    if (!remoteChanged) continue;
    const policy = input.policies[field] ?? 'most_recent';
    const decision =
      policy === 'local_wins' ? 'local' : policy === 'remote_wins' ? 'remote' : input.remoteChangedAt > input.localChangedAt ? 'remote' : 'local';
    if (decision === 'remote') merged[field] = remote;
    conflicts.push({ field, base: base ?? null, local, remote, policy, decision });
  }
  const result = merged as unknown as CustomerFields;
  return {
    merged: result,
    conflicts,
    localNeedsUpdate: CUSTOMER_FIELDS.some((f) => !sameValue(result[f], input.local[f])),
    remoteNeedsUpdate: CUSTOMER_FIELDS.some((f) => !sameValue(result[f], input.remote[f])),
  };
}

/** What a change notice (webhook or change feed event) says about the record it announces. */
export interface RemoteChangeNotice {
  /** When the remote system says the change happened (epoch ms). */
  occurredAt: number;
  /** The record as the notice saw it, when the notice carries it (Stripe's `data.object`). */
  fields?: CustomerFields;
}

/**
 * When the remote record we just read last changed, as far as the evidence goes (epoch ms), for the
 * `most_recent` policy. A notice dates only the record it describes: when the record we read is no
 * longer that one (e.g. the echo of our own create delivered after a worker restart, while a newer
 * remote edit is in the record), the change in it is newer than the notice and no newer than our
 * read, so it is dated by the read, never by the stale notice. A notice without the record can only
 * be taken at its word.
 */
export function remoteSnapshotChangedAt(read: { fields: CustomerFields; readAt: number }, notice: RemoteChangeNotice): number {
  if (!notice.fields || sameValue(notice.fields, read.fields)) return notice.occurredAt;
  return Math.max(notice.occurredAt, read.readAt);
}
