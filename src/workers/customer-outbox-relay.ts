import type { Client } from '@temporalio/client';
import { and, inArray, isNull } from 'drizzle-orm';
import type { Database, Db } from '../db/client.js';
import { CUSTOMER_OUTBOX_CHANNEL } from '../stores/customers/customer-store.js';
import { customerOutbox } from '../db/schema.js';
import { signalCustomerSync } from '../temporal/customers/signal-customer-sync.js';
import { NotifiedLoop } from './notified-loop.js';

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
  private readonly loop: NotifiedLoop;

  constructor(private readonly options: OutboxRelayOptions) {
    this.loop = new NotifiedLoop(
      {
        channel: CUSTOMER_OUTBOX_CHANNEL,
        ...(options.listen ? { listen: options.listen } : {}),
        pollIntervalMs: { listening: options.pollIntervalMs ?? 1_000, polling: options.pollIntervalMs ?? 100 },
        ...(options.onError ? { onError: options.onError } : {}),
      },
      async () => ({ worked: (await this.deliverBatch()) > 0 }),
    );
  }

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
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
