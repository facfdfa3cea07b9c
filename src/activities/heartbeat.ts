import { Context } from '@temporalio/activity';

/** How often a long activity tells Temporal it is alive (its options set a heartbeat timeout of several times this). */
const BEAT_EVERY_MS = 3_000;

/** The activity's context, or undefined when called outside an activity (a direct call in a script). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` heartbeating every few seconds, also while it waits on the database or a throttle: a
 * killed worker is noticed after the heartbeat timeout rather than the whole start-to-close timeout.
 * Every heartbeat carries the progress `work` last reported, and `work` starts from the progress of
 * the previous attempt when there is one, so a killed worker's finished batches are not redone.
 */
export async function beating<P, R = P>(
  start: P,
  work: (from: P, report: (progress: P) => void) => Promise<R>,
): Promise<R> {
  const ctx = activityContext();
  let progress = (ctx?.info.heartbeatDetails as P | undefined) ?? start;
  const beat = () => ctx?.heartbeat(progress);
  beat();
  const timer = setInterval(beat, BEAT_EVERY_MS);
  try {
    return await work(progress, (p) => {
      progress = p;
      beat();
    });
  } finally {
    clearInterval(timer);
  }
}
