import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CustomerFields } from '../domain/customers/fields.js';

/** Input of the per-customer entity workflow (`customer-<id>`); the carried state survives continue-as-new. */
export interface CustomerSyncInput {
  tenantId: string;
  customerId: string;
  carried?: CarriedSyncState;
}

export interface CarriedSyncState {
  lastPushedVersion: number;
  pushWanted: boolean;
  inbound: RemoteCustomerChange[];
  recentEventIds: string[];
}

/** A committed local change (from the outbox relay): the customer reached `version`. */
export interface LocalCustomerChange {
  version: number;
  /**
   * Push even if this version was pushed before (backfill and reconciliation: a connection that
   * joined later, or a push that never happened). The push itself skips what a system already has.
   */
  resync?: boolean;
}

/** A verified remote change (from the webhook inbox or reconciliation), applied through the mapping. */
export interface RemoteCustomerChange {
  connectionId: string;
  eventId: string;
  remoteId: string;
  /** When the remote system says the change happened (epoch ms). */
  occurredAt: number;
  /** The record as the event saw it, when the event carries it (see remoteSnapshotChangedAt). */
  fields?: CustomerFields;
}

/** A change for a customer's entity workflow: a committed local version, or a verified remote change. */
export type CustomerChange = { local: LocalCustomerChange } | { remote: RemoteCustomerChange };

/**
 * Delivers a change to a customer's entity workflow, starting it if needed (signal-with-start). The
 * worker hands activities one, so activity code does not import the Temporal client side.
 */
export type SignalCustomerSync = (customer: { tenantId: string; customerId: string }, change: CustomerChange) => Promise<void>;

export type SyncState = 'pending' | 'in_sync' | 'failed';

export const localCustomerChangeSignal = defineSignal<[LocalCustomerChange]>('localCustomerChange');
export const remoteCustomerChangeSignal = defineSignal<[RemoteCustomerChange]>('remoteCustomerChange');

export interface CustomerSyncProgress {
  state: SyncState;
  lastPushedVersion: number;
  queuedRemoteChanges: number;
}
export const customerSyncProgressQuery = defineQuery<CustomerSyncProgress>('customerSyncProgress');

/** What started a reconciliation run: turning sync on (backfill), the API, or the connection's Schedule. */
export type CustomerReconcileTrigger = 'connect' | 'manual' | 'schedule';

/** What a reconciliation run found and did so far. */
export interface CustomerReconcileCounts {
  /** Changes read from the remote change feed after the stored cursor (missed webhooks). */
  missedChanges: number;
  /** Records read on both sides. */
  scanned: number;
  /** Remote records with no local twin, created locally. */
  imported: number;
  /** Unlinked remote records matched to an existing local customer (metadata link or email). */
  linked: number;
  /** Local customers with no remote twin, handed to be created remotely. */
  pushed: number;
  /** Records on both sides that differed (drift), handed to their customer's workflow to repair. */
  repaired: number;
}

export type CustomerReconcilePhase = 'events' | 'remote' | 'sweep' | 'local' | 'done';

export interface CustomerReconcileInput {
  tenantId: string;
  connectionId: string;
  /** Absent in runs started before triggers existed (manual). */
  trigger?: CustomerReconcileTrigger;
  carried?: CarriedReconcileState;
}

/** A long run continues as new with its place and totals. */
export interface CarriedReconcileState {
  runId: string;
  phase: CustomerReconcilePhase;
  cursor: string | null;
  totals: CustomerReconcileCounts;
  skipRemoteIds: string[];
}

export interface CustomerReconcileProgress extends CustomerReconcileCounts {
  /** The run's id in `customer_sync_runs` (GET /v1/connections/:id/sync/runs/:runId); null before it is recorded. */
  runId: string | null;
  phase: CustomerReconcilePhase;
}

/** The result of a reconciliation run; `changes` (= missedChanges) is kept for callers of the first version. */
export interface CustomerReconcileResult extends CustomerReconcileProgress {
  changes: number;
}

export const customerReconcileProgressQuery = defineQuery<CustomerReconcileProgress>('customerReconcileProgress');

export const ZERO_RECONCILE_COUNTS: CustomerReconcileCounts = { missedChanges: 0, scanned: 0, imported: 0, linked: 0, pushed: 0, repaired: 0 };
