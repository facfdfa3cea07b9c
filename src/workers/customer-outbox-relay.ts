import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { and, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { customerOutbox } from '../db/schema.js';
import { signalCustomerSync } from '../temporal/customers/customer-sync.js';

export interface OutboxRelayOptions {
  db: Db;
  client: Client;
  taskQueue: string;
  /** Pause between polls when the outbox is empty (default 100 ms). */
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
      while (!signal.aborted) {
        let delivered = 0;
        try {
          delivered = await this.deliverBatch();
        } catch (err) {
          this.options.onError?.(err);
        }
        if (delivered === 0) await sleep(this.options.pollIntervalMs ?? 100, undefined, { signal }).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
