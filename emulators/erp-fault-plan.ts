/**
 * Faults of the ERP emulators that each speak their own wire format (soaperp, linkerp): which
 * request gets a 429 (with or without Retry-After) or falls in a burst of 500s. Seeded, so a test
 * run repeats; how a fault is written on the wire is the emulator's own business.
 */
import { seededRandom } from './seeded-random.js';

export interface ErpFaultPlanOptions {
  /** Share of requests answered 429 (0..1). */
  rate429: number;
  /** Share of those 429s that carry no Retry-After header (0..1). */
  withoutRetryAfter: number;
  /** Seconds in Retry-After when it is sent. */
  retryAfterSeconds: number;
  /** Every `burst500Every` requests (0 = never), the next `burst500Length` requests get 500. */
  burst500Every: number;
  burst500Length: number;
}

export type ErpFault = { status: 429; retryAfterSeconds?: number } | { status: 500 } | null;

export class ErpFaultPlan {
  options: ErpFaultPlanOptions = { rate429: 0, withoutRetryAfter: 0, retryAfterSeconds: 1, burst500Every: 0, burst500Length: 0 };
  private random: () => number;
  private requests = 0;
  private burstLeft = 0;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  set(options: Partial<ErpFaultPlanOptions>, seed?: number): void {
    this.options = { ...this.options, ...options };
    this.requests = 0;
    this.burstLeft = 0;
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  /** The fault for the next request, or null to answer it. */
  next(): ErpFault {
    const o = this.options;
    this.requests += 1;
    if (o.burst500Every > 0 && this.requests % o.burst500Every === 0) this.burstLeft = o.burst500Length;
    if (this.burstLeft > 0) {
      this.burstLeft -= 1;
      return { status: 500 };
    }
    if (this.random() < o.rate429) {
      return this.random() < o.withoutRetryAfter ? { status: 429 } : { status: 429, retryAfterSeconds: o.retryAfterSeconds };
    }
    return null;
  }
}
