import type { Client } from '@temporalio/client';
import type { Database, Db } from '../db/client.js';
import { EVENTS_CHANNEL } from '../stores/events/event-store.js';
import { claimEventsToFanOut, markFannedOut } from '../stores/events/webhook-delivery-store.js';
import { signalWebhookDeliveries } from '../temporal/events/signal-webhook-delivery.js';
import { NotifiedLoop } from './notified-loop.js';

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
  private readonly loop: NotifiedLoop;

  constructor(private readonly options: EventRelayOptions) {
    // Deferred events wait for another relay to finish their resource's earlier event: a short rest.
    this.loop = new NotifiedLoop(
      {
        channel: EVENTS_CHANNEL,
        ...(options.listen ? { listen: options.listen } : {}),
        pollIntervalMs: { listening: options.pollIntervalMs ?? 1_000, polling: options.pollIntervalMs ?? 200 },
        ...(options.onError ? { onError: options.onError } : {}),
      },
      async () => {
        const { fannedOut, deferred } = await this.fanOutBatch();
        return { worked: fannedOut > 0, ...(deferred > 0 ? { restMs: 50 } : {}) };
      },
    );
  }

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
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
