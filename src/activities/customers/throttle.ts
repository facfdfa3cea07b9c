import type { CustomerSyncAdapter } from '../../providers/customer-sync.js';

/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `burst`. `take()` resolves when a
 * token is available; callers queue in order. Hand-written because it is a dozen lines and must
 * queue async callers fairly, which the rate limiters on npm do with more than we need.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSecond: number,
    private readonly burst = Math.max(1, ratePerSecond),
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = this.burst;
    this.last = now();
  }

  /** Waits for one token (in call order). */
  take(): Promise<void> {
    const turn = this.tail.then(() => this.waitForToken());
    this.tail = turn;
    return turn;
  }

  private async waitForToken(): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
      this.last = t;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000)));
    }
  }
}

/** The adapter with every remote call taking a token first: bulk work on a connection cannot flood it. */
export function throttled(adapter: CustomerSyncAdapter, bucket: TokenBucket): CustomerSyncAdapter {
  return {
    create: async (...a) => (await bucket.take(), adapter.create(...a)),
    update: async (...a) => (await bucket.take(), adapter.update(...a)),
    delete: async (...a) => (await bucket.take(), adapter.delete(...a)),
    retrieve: async (...a) => (await bucket.take(), adapter.retrieve(...a)),
    changesSince: async (...a) => (await bucket.take(), adapter.changesSince(...a)),
    list: async (...a) => (await bucket.take(), adapter.list(...a)),
  };
}
