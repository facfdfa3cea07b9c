import {
  condition,
  continueAsNew,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createCustomerSyncActivities } from '../../activities/customers/customer-sync-activities.js';
import {
  customerSyncProgressQuery,
  localCustomerChangeSignal,
  remoteCustomerChangeSignal,
  type CustomerSyncInput,
  type RemoteCustomerChange,
  type SyncState,
} from '../../shared/customer-messages.js';
import { SyncStateAttr } from '../../shared/search-attributes.js';
import { localRemoteSync } from '../activity-options.js';
import { waitingForTenantShare } from '../wait-for-tenant-share.js';

type Activities = ReturnType<typeof createCustomerSyncActivities>;
/**
 * The entity workflow's steps run as local activities (one workflow task per change): applying a
 * remote change, and pushing a local change to every target in one call.
 */
const { applyRemoteCustomerChange, pushCustomerToTargets } = waitingForTenantShare(
  proxyLocalActivities<Pick<Activities, 'applyRemoteCustomerChange' | 'pushCustomerToTargets'>>(localRemoteSync),
);

/** With nothing to do for this long the run ends; the next change starts a new one (signal-with-start). */
const IDLE_TIMEOUT = '10 minutes';
/** Event ids remembered to drop a redelivered signal (the inbox dedupes first). */
const REMEMBERED_EVENTS = 200;
/** Continue-as-new well before Temporal's history limits. */
const MAX_HISTORY_EVENTS = 2_000;

/**
 * One entity workflow per customer (`customer-<id>`): applies local and remote changes one at a
 * time, in order, to every connected system. Local changes are deduplicated by version (the outbox
 * relay may signal twice after a crash); remote changes by event id.
 */
export async function customerSyncWorkflow(input: CustomerSyncInput): Promise<void> {
  const carried = input.carried;
  let lastPushedVersion = carried?.lastPushedVersion ?? 0;
  let pushWanted = carried?.pushWanted ?? false;
  const inbound: RemoteCustomerChange[] = [...(carried?.inbound ?? [])];
  const recentEventIds: string[] = [...(carried?.recentEventIds ?? [])];
  let state: SyncState = 'pending';

  setHandler(localCustomerChangeSignal, ({ version, resync }) => {
    if (version > lastPushedVersion || resync) pushWanted = true;
  });
  setHandler(remoteCustomerChangeSignal, (change) => {
    if (recentEventIds.includes(change.eventId)) return;
    recentEventIds.push(change.eventId);
    if (recentEventIds.length > REMEMBERED_EVENTS) recentEventIds.shift();
    inbound.push(change);
  });
  setHandler(customerSyncProgressQuery, () => ({
    state,
    lastPushedVersion,
    queuedRemoteChanges: inbound.length,
  }));

  const setState = (next: SyncState) => {
    if (next === state) return;
    state = next;
    upsertSearchAttributes([{ key: SyncStateAttr, value: next }]);
  };

  for (;;) {
    if (!(await condition(() => pushWanted || inbound.length > 0, IDLE_TIMEOUT))) return;
    setState('pending');
    while (inbound.length > 0) {
      const change = inbound.shift()!;
      const applied = await applyRemoteCustomerChange({
        ...change,
        tenantId: input.tenantId,
        customerId: input.customerId,
      });
      if (applied.pushNeeded) pushWanted = true;
    }
    let failed = false;
    if (pushWanted) {
      pushWanted = false;
      for (;;) {
        const pushed = await pushCustomerToTargets({
          tenantId: input.tenantId,
          customerId: input.customerId,
        });
        failed ||= pushed.failed;
        if (pushed.more) continue;
        if (pushed.targets > 0) lastPushedVersion = Math.max(lastPushedVersion, pushed.syncedVersion);
        break;
      }
    }
    if (!pushWanted && inbound.length === 0) setState(failed ? 'failed' : 'in_sync');
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await continueAsNew<typeof customerSyncWorkflow>({
        tenantId: input.tenantId,
        customerId: input.customerId,
        carried: { lastPushedVersion, pushWanted, inbound, recentEventIds },
      });
    }
  }
}
