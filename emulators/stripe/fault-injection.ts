import type { RequestHandler } from 'express';
import { injectedFailure, sendStripeError } from './stripe-errors.js';

/** Which requests a fault applies to. */
export interface FaultMatch {
  /** Only requests whose path starts with this (e.g. `/v1/payment_intents`). */
  pathPrefix?: string;
  /** Only this HTTP method (e.g. `POST`). */
  method?: string;
}

export interface FailNextOptions extends FaultMatch {
  /** How many matching requests fail (default 1). */
  times?: number;
  /** HTTP status to answer with (default 503): 429 → rate limit error, others → api_error. */
  status?: number;
  /**
   * Process the request first, then answer with the error instead of the result: the client sees a
   * 5xx although the change happened. An idempotent retry then replays the real result.
   */
  afterProcessing?: boolean;
  /** A Retry-After header sent with the failure (seconds or an HTTP-date), as Stripe may on 429/503. */
  retryAfter?: string;
}

export interface DropNextOptions extends FaultMatch {
  /**
   * How many matching requests are processed and then have their connection destroyed (default 1).
   * Note: the official Node SDK retries a reset connection once even with `maxNetworkRetries: 0`
   * (same Idempotency-Key, so it gets the replayed result); use 2 to make the client see the reset.
   */
  times?: number;
}

export interface FailureRateOptions extends FaultMatch {
  /** Status for the random failures (default 503). */
  status?: number;
}

type FaultRule =
  | ({
      kind: 'fail';
      remaining: number;
      status: number;
      afterProcessing: boolean;
      retryAfter?: string;
    } & FaultMatch)
  | ({ kind: 'drop'; remaining: number } & FaultMatch);

/** A snapshot of the configured faults. */
export interface FaultState {
  rules: FaultRule[];
  failureRate: number;
  failureRateStatus: number;
  failureRateMatch: FaultMatch;
}

export type FaultDecision =
  | { kind: 'fail'; status: number; afterProcessing: boolean; retryAfter?: string }
  | { kind: 'drop' }
  | { kind: 'random_fail'; status: number };

function matches(match: FaultMatch, method: string, path: string): boolean {
  return (
    (!match.pathPrefix || path.startsWith(match.pathPrefix)) &&
    (!match.method || match.method.toUpperCase() === method)
  );
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return n;
}

/** Scripted and random failures, consumed in the order they were added. */
export class FaultInjector {
  private rules: FaultRule[] = [];
  private failureRate = 0;
  private failureRateStatus = 503;
  private failureRateMatch: FaultMatch = {};

  constructor(private readonly random: () => number = Math.random) {}

  failNext(options: FailNextOptions = {}): void {
    const { times, status = 503, afterProcessing = false, pathPrefix, method, retryAfter } = options;
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new RangeError(`status must be 4xx or 5xx, got ${status}`);
    this.rules.push({
      kind: 'fail',
      remaining: positiveInt(times, 1, 'times'),
      status,
      afterProcessing,
      pathPrefix,
      method,
      ...(retryAfter ? { retryAfter } : {}),
    });
  }

  dropNext(options: DropNextOptions = {}): void {
    const { times, pathPrefix, method } = options;
    this.rules.push({ kind: 'drop', remaining: positiveInt(times, 1, 'times'), pathPrefix, method });
  }

  /** Fails this fraction (0..1) of matching requests at random; 0 turns it off. */
  setFailureRate(rate: number, options: FailureRateOptions = {}): void {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`rate must be between 0 and 1, got ${rate}`);
    this.failureRate = rate;
    this.failureRateStatus = options.status ?? 503;
    this.failureRateMatch = { pathPrefix: options.pathPrefix, method: options.method };
  }

  clear(): void {
    this.rules = [];
    this.failureRate = 0;
  }

  state(): FaultState {
    return {
      rules: this.rules.map((r) => ({ ...r })),
      failureRate: this.failureRate,
      failureRateStatus: this.failureRateStatus,
      failureRateMatch: { ...this.failureRateMatch },
    };
  }

  /** Consumes the first matching rule, if any; otherwise rolls the failure rate. */
  decide(method: string, path: string): FaultDecision | null {
    const index = this.rules.findIndex((r) => matches(r, method, path));
    const rule = this.rules[index];
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining === 0) this.rules.splice(index, 1);
      return rule.kind === 'drop'
        ? { kind: 'drop' }
        : {
            kind: 'fail',
            status: rule.status,
            afterProcessing: rule.afterProcessing,
            ...(rule.retryAfter ? { retryAfter: rule.retryAfter } : {}),
          };
    }
    if (
      this.failureRate > 0 &&
      matches(this.failureRateMatch, method, path) &&
      this.random() < this.failureRate
    ) {
      return { kind: 'random_fail', status: this.failureRateStatus };
    }
    return null;
  }
}

/**
 * Applies the injector's decision to a request. Failures before processing answer at once (nothing
 * is stored for idempotency, as at Stripe when a request never started executing). Drops and
 * after-processing failures let the request run, then replace what `res.json` would send.
 */
export function injectFaults(faults: FaultInjector): RequestHandler {
  return (req, res, next) => {
    const decision = faults.decide(req.method, req.path);
    if (!decision) {
      next();
      return;
    }
    res.locals['fault'] = decision.kind;
    if (decision.kind === 'fail' && decision.retryAfter) res.setHeader('Retry-After', decision.retryAfter);
    if (decision.kind === 'random_fail' || (decision.kind === 'fail' && !decision.afterProcessing)) {
      sendStripeError(res, injectedFailure(decision.status));
      return;
    }
    const send = res.json.bind(res);
    res.json = ((_body: unknown) => {
      if (decision.kind === 'drop') {
        // The work is done; the client just never hears back (a connection reset).
        res.socket?.destroy();
        return res;
      }
      res.json = send;
      const error = injectedFailure(decision.status);
      return res.status(error.status).json({ error: error.body });
    }) as typeof res.json;
    next();
  };
}
