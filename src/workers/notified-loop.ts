import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/client.js';

/** What one pass of a relay reports: work done (look again at once), or how long to rest. */
export interface PassResult {
  /** True when the pass did work: a full batch may mean more is waiting. */
  worked: boolean;
  /** A shorter rest than the poll interval (e.g. work deferred to another relay for a moment). */
  restMs?: number;
}

export interface NotifiedLoopOptions {
  /** The NOTIFY channel committed changes announce themselves on. */
  channel: string;
  /** The database's LISTEN: a notification wakes the loop at once; polling is the fallback. */
  listen?: Database['listen'];
  /** Rest between passes with nothing to do: `listening` when subscribed, `polling` when not. */
  pollIntervalMs: { listening: number; polling: number };
  onError?: (err: unknown) => void;
}

/**
 * Runs a relay's pass (outbox rows, events to fan out) whenever a committed change is announced on a
 * channel, and at least every poll interval in case a notification was lost. A notification that
 * arrives during a pass runs the next one at once. One loop for every relay of the workers.
 */
export class NotifiedLoop {
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: NotifiedLoopOptions,
    private readonly pass: () => Promise<PassResult>,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    // Set by a notification and read after each pass (an object: the callback writes it from outside).
    const notice = { arrived: false, wake: undefined as (() => void) | undefined };
    let unlisten: (() => Promise<void>) | undefined;
    try {
      unlisten = await this.options.listen?.(this.options.channel, () => {
        notice.arrived = true;
        notice.wake?.();
      });
    } catch (err) {
      this.options.onError?.(err); // polling still does the work
    }
    const interval = unlisten ? this.options.pollIntervalMs.listening : this.options.pollIntervalMs.polling;
    while (!signal.aborted) {
      let result: PassResult = { worked: false };
      notice.arrived = false;
      try {
        result = await this.pass();
      } catch (err) {
        this.options.onError?.(err);
      }
      if (result.worked || notice.arrived) continue;
      const woken = new AbortController();
      notice.wake = () => woken.abort();
      await sleep(Math.min(interval, result.restMs ?? interval), undefined, {
        signal: AbortSignal.any([signal, woken.signal]),
      }).catch(() => undefined);
      notice.wake = undefined;
    }
    await unlisten?.().catch(() => undefined);
  }
}
