import { sql } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/client.js';
import { rateLimitBuckets } from '../db/schema.js';
import { LruCache } from '../providers/lru-cache.js';
import { ApiError } from './errors.js';

/** What a bucket counts; also the label a rejection hook (metrics) receives. */
export type RateLimitKind = 'tenant' | 'ip' | 'webhook';

export interface RateLimitSettings {
  windowSeconds: number;
  /** Authenticated API requests per tenant and window. */
  tenant: number;
  /** Per client address: unauthenticated and admin requests, failed authentications, unverified webhooks. */
  ip: number;
  /** Verified webhooks per gateway connection or ERP integration (their deliveries never share a bucket with anyone else). */
  webhook: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  windowSeconds: 60,
  tenant: 1200,
  ip: 60,
  webhook: 1200,
};

/** Called on every 429; the metrics endpoint counts these (kept a plain callback: no metrics dependency here). */
export type RateLimitRejectedHook = (event: { kind: RateLimitKind }) => void;

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

const SWEEP_EVERY_MS = 60_000;
/** A lease of more than one hit is taken only this soon after the previous lease (a busy bucket). */
const BUSY_BUCKET_MS = 1000;
/** A lease never takes more than this share of the limit, so instances sharing a bucket stay fair. */
const LEASE_SHARE = 1 / 50;
/** Buckets this process holds leases for; the least recently used goes first (a flood of addresses). */
const MAX_BUCKETS = 10_000;

/** What this process knows of one bucket's current window. */
interface Lease {
  /** Hits leased from the shared count and not yet used by a request of this process. */
  tokens: number;
  /** The shared count just after the last lease (this process's unused tokens included). */
  hits: number;
  /** When the window the tokens belong to ends (ms, this process's clock). */
  expiresAt: number;
  /** Set once the shared count is over the limit: every request is refused until the window ends. */
  refused: boolean;
  /** Hits the next lease takes: 1, doubling while the bucket is busy, up to LEASE_SHARE of the limit. */
  size: number;
  leasedAt: number;
  pending?: Promise<void>;
}

/**
 * Request counters shared by every API instance, kept in Postgres: the deployment already has it (the
 * embedded default has no Redis, and PGlite speaks the same SQL). A fixed window (rather than GCRA)
 * because one statement then yields the exact count and reset time the RateLimit headers need; its
 * known weakness, up to twice the limit across a window boundary, is acceptable for abuse protection.
 * Windows are aligned on the database clock, so instances with skewed clocks agree.
 *
 * A busy bucket (every API request of a tenant, every callback of a gateway) is one hot row: counting
 * each request there serialized them all on its lock, each waiting for the previous commit. So a
 * process leases hits in advance (the token-leasing of quota services such as Envoy's and Google's):
 * one upsert adds n hits to the shared count and this process spends them locally. A quiet bucket
 * leases one hit at a time, exactly as a per-request count; a busy one doubles its lease up to 1/50 of
 * the limit (24 of the default 1,200). The shared count never admits more than the limit; unused
 * leased hits can make another instance refuse up to that share early, and they lapse with the window.
 * A bucket found over its limit is refused locally until its window ends, so a flood costs no queries.
 */
export class RateLimiter {
  private lastSweep = 0;
  private readonly leases = new LruCache<string, Lease>(MAX_BUCKETS);

  constructor(
    private readonly db: Db,
    readonly settings: RateLimitSettings,
    private readonly onRejected: RateLimitRejectedHook = () => {},
  ) {}

  /** Counts one request in `kind:key`; sets the RateLimit headers and throws a 429 once over the limit. */
  async consume(kind: RateLimitKind, key: string, res: Response): Promise<void> {
    const limit = this.settings[kind];
    const bucket = `${kind}:${key}`;
    for (;;) {
      const now = Date.now();
      const lease = this.leases.get(bucket);
      // The window is over: what was leased for it lapses (the bucket's pace is kept).
      if (lease && !lease.pending && lease.expiresAt <= now)
        Object.assign(lease, { tokens: 0, refused: false });
      if (lease?.refused) {
        const state: RateLimitState = {
          limit,
          remaining: 0,
          resetSeconds: secondsUntil(lease.expiresAt, now),
        };
        setRateLimitHeaders(res, state);
        this.onRejected({ kind });
        res.set('Retry-After', String(state.resetSeconds));
        throw new ApiError(
          429,
          'rate_limited',
          `rate limit of ${limit} requests per ${this.settings.windowSeconds}s exceeded (${kind}); retry after ${state.resetSeconds}s`,
        );
      }
      if (lease && lease.tokens > 0) {
        lease.tokens -= 1;
        setRateLimitHeaders(res, {
          limit,
          remaining: Math.max(0, limit - lease.hits + lease.tokens),
          resetSeconds: secondsUntil(lease.expiresAt, now),
        });
        return;
      }
      // One lease at a time per bucket: requests that arrive meanwhile wait for it and share it.
      if (lease?.pending) {
        await lease.pending;
        continue;
      }
      const next = lease ?? { tokens: 0, hits: 0, expiresAt: 0, refused: false, size: 1, leasedAt: 0 };
      this.leases.set(bucket, next);
      next.pending = this.lease(bucket, next, limit, now).finally(() => (next.pending = undefined));
      await next.pending;
    }
  }

  /** Adds the lease's hits to the shared count and keeps what the limit allows of them. */
  private async lease(bucket: string, lease: Lease, limit: number, now: number): Promise<void> {
    const busy = now - lease.leasedAt < BUSY_BUCKET_MS;
    const size = busy ? Math.min(lease.size * 2, Math.max(1, Math.floor(limit * LEASE_SHARE))) : 1;
    const w = this.settings.windowSeconds;
    const windowStart = sql`to_timestamp(floor(extract(epoch from now()) / ${w}::int) * ${w}::int)`;
    const [row] = await this.db
      .insert(rateLimitBuckets)
      .values({ bucket, windowStart: windowStart as unknown as Date, hits: size })
      .onConflictDoUpdate({
        target: rateLimitBuckets.bucket,
        set: {
          // A statement that waited on the row lock may carry the previous window (now() is taken at
          // its start): it then counts in the newer window rather than moving the row back.
          hits: sql`case when ${rateLimitBuckets.windowStart} >= excluded.window_start then ${rateLimitBuckets.hits} + ${size}::int else ${size}::int end`,
          windowStart: sql`greatest(${rateLimitBuckets.windowStart}, excluded.window_start)`,
        },
      })
      .returning({
        hits: rateLimitBuckets.hits,
        resetMs: sql<number>`greatest(1, ceil(extract(epoch from ${rateLimitBuckets.windowStart} + ${w}::int * interval '1 second' - now()) * 1000))::int`,
      });
    this.sweepNowAndThen();
    const hits = row!.hits;
    // Over the limit, only the hits that fit under it (those before the count crossed it) are ours.
    const granted = Math.max(0, Math.min(size, limit - (hits - size)));
    Object.assign(lease, {
      tokens: granted,
      hits: Math.min(hits, limit),
      expiresAt: Date.now() + Number(row!.resetMs),
      refused: granted === 0,
      size,
      leasedAt: now,
    });
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

/** Whole seconds (at least 1) from `now` to `at`, as RateLimit-Reset and Retry-After give them. */
function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
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
