import { sql } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/client.js';
import { rateLimitBuckets } from '../db/schema.js';
import { ApiError } from './errors.js';

/** What a bucket counts; also the label a rejection hook (metrics) receives. */
export type RateLimitKind = 'tenant' | 'ip' | 'webhook';

export interface RateLimitSettings {
  windowSeconds: number;
  /** Authenticated API requests per tenant and window. */
  tenant: number;
  /** Per client address: unauthenticated and admin requests, failed authentications, unverified webhooks. */
  ip: number;
  /** Verified webhooks per connection (a gateway's callbacks never share a bucket with anyone else). */
  webhook: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = { windowSeconds: 60, tenant: 1200, ip: 60, webhook: 1200 };

/** Called on every 429; the metrics endpoint counts these (kept a plain callback: no metrics dependency here). */
export type RateLimitRejectedHook = (event: { kind: RateLimitKind }) => void;

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Request counters shared by every API instance, kept in Postgres: the deployment already has it (the
 * embedded default has no Redis, and PGlite speaks the same SQL), and one atomic UPSERT per request is
 * cheap next to the queries the request makes anyway. A fixed window (rather than GCRA) because the
 * same single statement then yields the exact remaining count and reset time the RateLimit headers
 * need; its known weakness, up to twice the limit across a window boundary, is acceptable for abuse
 * protection. Windows are aligned on the database clock, so instances with skewed clocks agree.
 */
export class RateLimiter {
  private lastSweep = 0;

  constructor(
    private readonly db: Db,
    readonly settings: RateLimitSettings,
    private readonly onRejected: RateLimitRejectedHook = () => {},
  ) {}

  /** Counts one request in `kind:key`; sets the RateLimit headers and throws a 429 once over the limit. */
  async consume(kind: RateLimitKind, key: string, res: Response): Promise<void> {
    const limit = this.settings[kind];
    const w = this.settings.windowSeconds;
    const windowStart = sql`to_timestamp(floor(extract(epoch from now()) / ${w}::int) * ${w}::int)`;
    const [row] = await this.db
      .insert(rateLimitBuckets)
      .values({ bucket: `${kind}:${key}`, windowStart: windowStart as unknown as Date, hits: 1 })
      .onConflictDoUpdate({
        target: rateLimitBuckets.bucket,
        set: {
          // A statement that waited on the row lock may carry the previous window (now() is taken at
          // its start): it then counts in the newer window rather than moving the row back.
          hits: sql`case when ${rateLimitBuckets.windowStart} >= excluded.window_start then ${rateLimitBuckets.hits} + 1 else 1 end`,
          windowStart: sql`greatest(${rateLimitBuckets.windowStart}, excluded.window_start)`,
        },
      })
      .returning({
        hits: rateLimitBuckets.hits,
        resetSeconds: sql<number>`greatest(1, ceil(extract(epoch from ${rateLimitBuckets.windowStart} + ${w}::int * interval '1 second' - now())))::int`,
      });
    this.sweepNowAndThen();
    const state: RateLimitState = { limit, remaining: Math.max(0, limit - row!.hits), resetSeconds: Number(row!.resetSeconds) };
    setRateLimitHeaders(res, state);
    if (row!.hits > limit) {
      this.onRejected({ kind });
      res.set('Retry-After', String(state.resetSeconds));
      throw new ApiError(429, 'rate_limited', `rate limit of ${limit} requests per ${w}s exceeded (${kind}); retry after ${state.resetSeconds}s`);
    }
  }

  /** Express middleware counting the request per client address. */
  perClientAddress(): RequestHandler {
    return async (req, res, next) => {
      await this.consume('ip', clientAddress(req), res);
      next();
    };
  }

  /** Rows of past windows are dead weight; any instance deletes them about once a minute. */
  private sweepNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const w = this.settings.windowSeconds;
    void this.db
      .delete(rateLimitBuckets)
      .where(sql`${rateLimitBuckets.windowStart} < now() - ${w}::int * interval '2 seconds'`)
      .catch(() => {});
  }
}

/** IETF draft-ietf-httpapi-ratelimit-headers (RateLimit-Limit/-Remaining/-Reset, reset in delta seconds). */
function setRateLimitHeaders(res: Response, state: RateLimitState): void {
  res.set('RateLimit-Limit', String(state.limit));
  res.set('RateLimit-Remaining', String(state.remaining));
  res.set('RateLimit-Reset', String(state.resetSeconds));
}

/** The client's address as Express sees it: X-Forwarded-For is honoured only per the `trust proxy` setting. */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
