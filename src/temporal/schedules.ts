import { createHash } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';

/** What every schedule of the platform is made of (overlap: a run still going skips the next one). */
export interface PlatformSchedule {
  scheduleId: string;
  spec: ScheduleSpec;
  action: ScheduleOptionsAction;
  /** Applied at creation only: an existing schedule keeps its paused state (an operator may have paused it). */
  paused?: boolean;
  note?: string;
}

/**
 * Creates the schedule, or updates the spec and action of the one that exists (start-up and API
 * calls repeat safely). The one create-or-update path for the health, payment reconciliation, ERP
 * poll and customer reconciliation schedules.
 */
export async function upsertSchedule(client: Client, s: PlatformSchedule): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: s.scheduleId,
      spec: s.spec,
      action: s.action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      ...(s.paused !== undefined || s.note ? { state: { ...(s.paused !== undefined ? { paused: s.paused } : {}), ...(s.note ? { note: s.note } : {}) } } : {}),
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(s.scheduleId).update((prev) => ({ ...prev, spec: s.spec, action: s.action }));
  }
}

/**
 * Every `everySeconds`, at a phase that is a stable function of `key`. Temporal aligns an interval
 * to the epoch, so without an offset every connection's hourly schedule fires on the hour, all at
 * once (and each update keeps the phase, since the key does not change).
 */
export function spreadInterval(everySeconds: number, key: string): ScheduleSpec {
  const phase = createHash('sha256').update(key).digest().readUInt32BE(0) % everySeconds;
  return { intervals: [{ every: `${everySeconds}s`, offset: `${phase}s` }] };
}

/** Deletes a schedule; one that does not exist is already where we want it. */
export async function deleteScheduleIfExists(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}
