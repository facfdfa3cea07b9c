import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { and, inArray, isNull } from 'drizzle-orm';
import type { Database, Db } from '../db/client.js';
import { CUSTOMER_OUTBOX_CHANNEL } from '../stores/customers/customer-store.js';
import { customerOutbox } from '../db/schema.js';
import { signalCustomerSync } from '../temporal/customers/signal-customer-sync.js';

export interface OutboxRelayOptions {
  db: Db;
  client: Client;
  taskQueue: string;
  /**
   * The database's LISTEN (Database.listen): the relay subscribes to the outbox's announcements, then
   * delivers a committed change at once and polls only as a fallback for a lost notification.
   */
  listen?: Database['listen'];
  /** Pause between polls when the outbox is empty (default 1 s when listening, else 100 ms). */
  pollIntervalMs?: number;
  batchSize?: number;
  onError?: (err: unknown) => void;
}

/**
 * Relays committed local customer changes to their entity workflows. A row is marked delivered only
 * after the signal succeeded; a crash in between signals again, and the workflow drops the repeat
 * (it dedupes by version). Polling a partial index keeps this a cheap query.
 */
export class CustomerOutboxRelay {
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: OutboxRelayOptions) {}

  /** Delivers one batch; resolves with the number of rows delivered. */
  async deliverBatch(): Promise<number> {
    const { db, client, taskQueue } = this.options;
    const rows = await db
      .select()
      .from(customerOutbox)
      .where(isNull(customerOutbox.deliveredAt))
      .orderBy(customerOutbox.id)
      .limit(this.options.batchSize ?? 200);
    if (rows.length === 0) return 0;
    // One signal per customer with its newest version: the workflow pushes the current state anyway.
    const latest = new Map<string, (typeof rows)[number]>();
    for (const row of rows) if ((latest.get(row.customerId)?.version ?? 0) < row.version) latest.set(row.customerId, row);
    await Promise.all(
      [...latest.values()].map((row) =>
        signalCustomerSync(client, taskQueue, { tenantId: row.tenantId, customerId: row.customerId }, { local: { version: row.version } }),
      ),
    );
    await db
      .update(customerOutbox)
      .set({ deliveredAt: new Date() })
      .where(and(inArray(customerOutbox.id, rows.map((r) => r.id)), isNull(customerOutbox.deliveredAt)));
    return rows.length;
  }

  start(): void {
    this.loop ??= (async () => {
      const signal = this.stopping.signal;
      // Set by a notification; read after each batch (an object: the callback writes it from outside the loop).
      const notice = { arrived: false, wake: undefined as (() => void) | undefined };
      let unlisten: (() => Promise<void>) | undefined;
      try {
        unlisten = await this.options.listen?.(CUSTOMER_OUTBOX_CHANNEL, () => {
          notice.arrived = true;
          notice.wake?.();
        });
      } catch (err) {
        this.options.onError?.(err); // polling still delivers everything
      }
      const interval = this.options.pollIntervalMs ?? (unlisten ? 1_000 : 100);
      while (!signal.aborted) {
        let delivered = 0;
        notice.arrived = false;
        try {
          delivered = await this.deliverBatch();
        } catch (err) {
          this.options.onError?.(err);
        }
        // A notification that came while delivering (or a full batch) means: look again at once.
        if (delivered > 0 || notice.arrived) continue;
        const woken = new AbortController();
        notice.wake = () => woken.abort();
        await sleep(interval, undefined, { signal: AbortSignal.any([signal, woken.signal]) }).catch(() => undefined);
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
