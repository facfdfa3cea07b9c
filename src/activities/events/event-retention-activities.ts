import type { Db } from '../../db/client.js';
import type { EventRetentionInput } from '../../shared/event-messages.js';
import { deleteEventsOlderThan } from '../../stores/events/event-store.js';
import { beating } from '../heartbeat.js';

/** Deletes events past their retention period, for the event retention Schedule. */
export function createEventRetentionActivities(deps: { db: Db }) {
  return {
    /** Deletes in batches, heartbeating after each, so a large backlog is not one long-locked statement. */
    async deleteExpiredEvents(input: EventRetentionInput): Promise<{ deleted: number }> {
      const deleted = await beating(0, (_from, report) => deleteEventsOlderThan(deps.db, input.retentionDays, { onBatch: report }));
      return { deleted };
    },
  };
}

export type EventRetentionActivities = ReturnType<typeof createEventRetentionActivities>;
