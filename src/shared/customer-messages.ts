import { defineQuery, defineSignal } from '@temporalio/workflow';

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
}

/** A verified remote change (from the webhook inbox or reconciliation), applied through the mapping. */
export interface RemoteCustomerChange {
  connectionId: string;
  eventId: string;
  remoteId: string;
  /** When the remote system says the change happened (epoch ms). */
  occurredAt: number;
}

export type SyncState = 'pending' | 'in_sync' | 'failed';

export const localCustomerChangeSignal = defineSignal<[LocalCustomerChange]>('localCustomerChange');
export const remoteCustomerChangeSignal = defineSignal<[RemoteCustomerChange]>('remoteCustomerChange');

export interface CustomerSyncProgress {
  state: SyncState;
  lastPushedVersion: number;
  queuedRemoteChanges: number;
}
export const customerSyncProgressQuery = defineQuery<CustomerSyncProgress>('customerSyncProgress');
