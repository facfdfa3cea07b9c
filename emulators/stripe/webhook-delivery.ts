import { setTimeout as sleep } from 'node:timers/promises';
import type { EventObject } from './objects.js';
import { signWebhookPayload } from './webhook-signing.js';

/** Where one event goes: a registered endpoint or the emulator-wide receiver. */
export interface WebhookTarget {
  url: string;
  secret: string;
  /** The webhook endpoint's id; absent for the `webhookUrl` option's receiver. */
  endpointId?: string;
}

export interface DeliveryRecord {
  eventId: string;
  eventType: string;
  url: string;
  endpointId?: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed';
  lastStatus?: number;
  lastError?: string;
}

export interface WebhookDeliveryOptions {
  /** Wait before the first attempt (default 0). */
  delayMs: number;
  /** Attempts per event and target, the first included (default 4). */
  maxAttempts: number;
  /** Backoff before retry n is `retryBaseMs * 2^(n-1)` (default 250). */
  retryBaseMs: number;
  /** Per-attempt HTTP timeout (default 5000). */
  timeoutMs: number;
}

/**
 * Delivers events asynchronously (never on the API request's path), retrying non-2xx answers with
 * exponential backoff. Delivery can be paused: attempts wait until resumed.
 */
export class WebhookDispatcher {
  private readonly records: DeliveryRecord[] = [];
  private readonly closing = new AbortController();
  private paused = false;
  private resumeWaiters: (() => void)[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WebhookDeliveryOptions) {}

  enqueue(event: EventObject, target: WebhookTarget): void {
    const record: DeliveryRecord = {
      eventId: event.id,
      eventType: event.type,
      url: target.url,
      ...(target.endpointId ? { endpointId: target.endpointId } : {}),
      attempts: 0,
      state: 'pending',
    };
    this.records.push(record);
    this.inFlight += 1;
    // Stripe sends the event pretty-printed; the signature covers these exact bytes.
    const payload = JSON.stringify(event, null, 2);
    void this.deliver(record, payload, target.secret).finally(() => {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((resolve) => resolve());
  }

  isPaused(): boolean {
    return this.paused;
  }

  deliveries(): DeliveryRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Resolves once no delivery is pending (never while paused with deliveries queued). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  clear(): void {
    this.records.length = 0;
  }

  close(): void {
    this.closing.abort();
    this.resume();
  }

  private async deliver(record: DeliveryRecord, payload: string, secret: string): Promise<void> {
    const signal = this.closing.signal;
    try {
      if (this.options.delayMs > 0) await sleep(this.options.delayMs, undefined, { signal });
      for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
        while (this.paused && !signal.aborted)
          await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
        if (signal.aborted) return;
        record.attempts = attempt;
        if (await this.attempt(record, payload, secret)) {
          record.state = 'delivered';
          return;
        }
        if (attempt < this.options.maxAttempts) {
          await sleep(this.options.retryBaseMs * 2 ** (attempt - 1), undefined, { signal });
        }
      }
      record.state = 'failed';
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  private async attempt(record: DeliveryRecord, payload: string, secret: string): Promise<boolean> {
    try {
      const response = await fetch(record.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          // Signed per attempt, with the attempt's own timestamp, as Stripe does.
          'Stripe-Signature': signWebhookPayload(payload, secret),
        },
        body: payload,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.closing.signal]),
      });
      await response.arrayBuffer().catch(() => undefined);
      record.lastStatus = response.status;
      delete record.lastError;
      return response.ok;
    } catch (error) {
      record.lastError = error instanceof Error ? error.message : String(error);
      return false;
    }
  }
}
