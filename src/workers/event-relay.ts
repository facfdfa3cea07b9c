import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Database, Db } from '../db/client.js';
import { EVENTS_CHANNEL } from '../stores/events/event-store.js';
import { claimEventsToFanOut, markFannedOut } from '../stores/events/webhook-delivery-store.js';
import { signalWebhookDeliveries } from '../temporal/events/signal-webhook-delivery.js';

export interface EventRelayOptions {
  db: Db;
  client: Client;
  /** The `events` family's task queue, where the delivery workflows run. */
  taskQueue: string;
  /** The database's LISTEN: a committed event wakes the relay at once; polling is the fallback. */
  listen?: Database['listen'];
  /** Pause between polls with nothing to do (default 1 s when listening, else 200 ms). */
  pollIntervalMs?: number;
  batchSize?: number;
  onError?: (err: unknown) => void;
}

/**
 * Fans committed events out to webhook endpoints: for each event not fanned out yet, oldest first, a
 * delivery row per matching enabled endpoint, a signal to each (endpoint, resource) delivery workflow,
 * then the event is marked. A crash before the mark signals the same rows again and the workflows
 * drop the repeats. Several relays (one per worker process) split the events without reordering a
 * resource's (src/stores/events/webhook-delivery-store.ts, claimEventsToFanOut).
 */
export class EventRelay {
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: EventRelayOptions) {}

  /** One pass: resolves with the number of events fanned out and whether some had to wait. */
  async fanOutBatch(): Promise<{ fannedOut: number; deferred: number }> {
    const { db, client, taskQueue } = this.options;
    const batch = await claimEventsToFanOut(db, this.options.batchSize ?? 200);
    if (batch.eventIds.length === 0) return { fannedOut: 0, deferred: batch.deferred };
    await signalWebhookDeliveries(client, taskQueue, batch.deliveries);
    await markFannedOut(db, batch.eventIds);
    return { fannedOut: batch.eventIds.length, deferred: batch.deferred };
  }

  start(): void {
    this.loop ??= (async () => {
      const signal = this.stopping.signal;
      const notice = { arrived: false, wake: undefined as (() => void) | undefined };
      let unlisten: (() => Promise<void>) | undefined;
      try {
        unlisten = await this.options.listen?.(EVENTS_CHANNEL, () => {
          notice.arrived = true;
          notice.wake?.();
        });
      } catch (err) {
        this.options.onError?.(err); // polling still fans everything out
      }
      const interval = this.options.pollIntervalMs ?? (unlisten ? 1_000 : 200);
      while (!signal.aborted) {
        let progress = { fannedOut: 0, deferred: 0 };
        notice.arrived = false;
        try {
          progress = await this.fanOutBatch();
        } catch (err) {
          this.options.onError?.(err);
        }
        // Work done, or a notification while working: look again at once. Deferred events wait for
        // another relay to finish their resource's earlier event: a short pause, not a full poll.
        if (progress.fannedOut > 0 || notice.arrived) continue;
        const pause = progress.deferred > 0 ? Math.min(interval, 50) : interval;
        const woken = new AbortController();
        notice.wake = () => woken.abort();
        await sleep(pause, undefined, { signal: AbortSignal.any([signal, woken.signal]) }).catch(() => undefined);
        notice.wake = undefined;
      }
      await unlisten?.().catch(() => undefined);
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
