import type { CustomerFields } from '../domain/customers/fields.js';
import type { RemoteCustomerChange } from '../shared/customer-messages.js';

/**
 * The one contract between the customer sync engine and a remote system (Stripe, a CRM). The engine
 * (workflow + activities) never knows whose API it talks to; a new system is a new implementation.
 */

/** A remote record in the platform's terms. */
export interface RemoteCustomer {
  remoteId: string;
  fields: CustomerFields;
  /** Our local id, when the record carries the link (e.g. Stripe metadata). */
  localId: string | null;
  deleted: boolean;
  /** The record's revision, for systems with optimistic concurrency (sent back with the next write). */
  version?: string;
}

/** What a verified webhook says changed. The engine re-reads the record: the snapshot may be stale. */
export interface RemoteCustomerEvent {
  eventId: string;
  kind: 'created' | 'updated' | 'deleted';
  remoteId: string;
  /** When the change happened at the remote system (epoch ms). */
  occurredAt: number;
  /** The local id the record links to, if it carries one. */
  localId: string | null;
  /** The record as the event saw it, when the event carries it: dates a re-read record correctly. */
  fields?: CustomerFields;
  /** The idempotency key of the request that made the change, when the system reports it: recognises our own writes. */
  idempotencyKey?: string | null;
}

/** One connection's client for the customers catalog. Failures: {@link RemoteRateLimitedError}, GatewayError. */
export interface CustomerSyncAdapter {
  create(fields: CustomerFields, link: { localId: string; idempotencyKey: string }): Promise<RemoteCustomer>;
  /**
   * Writes carry the record's version (optimistic concurrency): the engine reads the record first and
   * passes its `version`; a stale one fails with {@link RemoteVersionConflictError}.
   */
  readonly versioned?: boolean;
  /** Sends only what changed between `before` and `after` (with `version`, only if the record is still at it). */
  update(remoteId: string, before: CustomerFields, after: CustomerFields, link: { localId: string; idempotencyKey: string; version?: string }): Promise<RemoteCustomer>;
  /** Resolves also when the record is already gone. With `version`, only if the record is still at it. */
  delete(remoteId: string, idempotencyKey: string, version?: string): Promise<void>;
  /** The current record; `deleted: true` when it was deleted; null when it never existed. */
  retrieve(remoteId: string): Promise<RemoteCustomer | null>;
  /**
   * Changes after `cursor` (null: the most recent page), oldest first, and the cursor to resume from.
   * A system without a change feed may answer the records its list says were modified since the
   * previous read (declarative `list.modifiedAfter`).
   */
  changesSince(cursor: string | null): Promise<{ events: RemoteCustomerEvent[]; cursor: string | null }>;
  /**
   * One page of the live (not deleted) records, in an order that is stable while paging, starting
   * after `cursor` (null: the first page). `cursor` is null on the last page. Backfill and drift
   * detection read the whole catalog through it; a page of about 100 is right for most systems.
   */
  list(cursor: string | null): Promise<{ records: RemoteCustomer[]; cursor: string | null }>;
}

/** The remote system asked us to slow down; retry no sooner than `retryAfterMs`. */
export class RemoteRateLimitedError extends Error {
  override readonly name = 'RemoteRateLimitedError';
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** The write carried a version the record has moved past: someone else changed it since we read it. */
export class RemoteVersionConflictError extends Error {
  override readonly name = 'RemoteVersionConflictError';
}

/** The key under which the local id is stored at remote systems that carry free-form metadata. */
export const LOCAL_ID_METADATA_KEY = 'switchyard_id';

/** The change a verified remote event (webhook or change feed) hands to the customer's workflow. */
export function remoteChangeOf(connectionId: string, event: RemoteCustomerEvent): RemoteCustomerChange {
  const { eventId, remoteId, occurredAt, fields } = event;
  return { connectionId, eventId, remoteId, occurredAt, ...(fields ? { fields } : {}) };
}
