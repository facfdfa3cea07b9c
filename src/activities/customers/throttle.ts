import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../../db/client.js';
import { connectionThrottles } from '../../db/schema.js';
import type { CustomerSyncAdapter } from '../../providers/crm-client.js';

/** Hands out permission for one remote call, waiting as long as needed. */
export interface Throttle {
  take(): Promise<void>;
}

/**
 * A connection's token bucket, kept in Postgres so every worker process shares it: `ratePerSecond`
 * tokens a second, holding at most `burst`. A take is one statement: it refills the bucket for the
 * time passed and takes a token, going into debt when none is left; the caller then waits until its
 * token is due (debt / rate). The row lock orders takers across processes, so N workers together stay
 * at the connection's rate (an in-process bucket let them make N times it). Hand-written: a dozen
 * lines of SQL, where a rate-limiter package would need its own store.
 */
export function sharedTokenBucket(db: Db, connectionId: string, ratePerSecond: number, burst = Math.max(1, ratePerSecond)): Throttle {
  const t = connectionThrottles;
  return {
    async take() {
      const result = await db.execute(sql`
        insert into ${t} (connection_id, tokens, refilled_at) values (${connectionId}, ${burst - 1}, clock_timestamp())
        on conflict (connection_id) do update set
          tokens = least(${burst}::float8, ${t.tokens} + extract(epoch from clock_timestamp() - ${t.refilledAt})::float8 * ${ratePerSecond}::float8) - 1,
          refilled_at = clock_timestamp()
        returning tokens`);
      const tokens = Number(rowsOf<{ tokens: number }>(result)[0]?.tokens ?? 0);
      if (tokens < 0) await new Promise((r) => setTimeout(r, Math.ceil((-tokens / ratePerSecond) * 1000)));
    },
  };
}

/** The adapter with every remote call taking a token first: bulk work on a connection cannot flood it. */
export function throttled(adapter: CustomerSyncAdapter, bucket: Throttle): CustomerSyncAdapter {
  return {
    ...(adapter.versioned ? { versioned: true } : {}),
    create: async (...a) => (await bucket.take(), adapter.create(...a)),
    update: async (...a) => (await bucket.take(), adapter.update(...a)),
    delete: async (...a) => (await bucket.take(), adapter.delete(...a)),
    retrieve: async (...a) => (await bucket.take(), adapter.retrieve(...a)),
    changesSince: async (...a) => (await bucket.take(), adapter.changesSince(...a)),
    list: async (...a) => (await bucket.take(), adapter.list(...a)),
  };
}
