import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ConnectionActivities } from '../activities/connection-activities.js';
import type { createCustomerSyncActivities } from '../activities/customers/customer-sync-activities.js';
import type { ErpActivities } from '../activities/erp/erp-activities.js';
import type { WebhookDeliveryActivities } from '../activities/events/webhook-delivery-activities.js';
import type { PaymentActivities } from '../activities/payments/payment-activities.js';
import { FailureType } from '../domain/failures.js';
import { tenantShareRefusals } from '../metrics/worker-metrics.js';
import { PLATFORM_PRIORITY } from '../shared/fairness.js';

type ActivityName =
  | keyof PaymentActivities
  | keyof ConnectionActivities
  | keyof ReturnType<typeof createCustomerSyncActivities>
  | keyof ErpActivities
  | keyof WebhookDeliveryActivities;

/**
 * The activities that call a tenant's provider (gateway, CRM, ERP) or webhook endpoint, and so can
 * take as long as the provider lets them: these are what a tenant with a hanging or slow provider
 * piles up. Bookkeeping against our own database is quick and not counted; health checks are the
 * platform's own bounded sweep. Typed against the activity factories, so a renamed activity is a compile error here.
 */
export const PROVIDER_CALLS: ReadonlySet<string> = new Set<ActivityName>([
  'chargeGateway',
  'queryGatewayStatus',
  'confirmCallback',
  'resendWithSameKey',
  'queryRefundStatus',
  'cancelAtGateway',
  'captureAtGateway',
  'refundAtGateway',
  'verifyConnectionCredentials',
  'pushCustomerToRemote',
  'pushCustomerToTargets',
  'applyRemoteCustomerChange',
  'catchUpMissedCustomerChanges',
  'reconcileRemoteCustomerPage',
  'sweepUnseenRemoteCustomers',
  'reconcileLocalCustomerPage',
  'testErpConnection',
  'syncErpPages',
  'deliverWebhook',
]);

/**
 * Counts each tenant's provider calls running in this worker process and refuses one the worker
 * cannot spare. Work-conserving: a tenant always gets `share` calls at once; past that it may borrow
 * idle capacity while the calls of all tenants together leave `share` of the `capacity` free, so a
 * tenant alone on a worker can use most of it, and a tenant whose calls hang can never take the last
 * share from the others. Hand-written: counters per key are all it is, and a semaphore package would
 * queue the call while it holds a worker slot, which is exactly what must not happen (a queued call of
 * a tenant with a hanging provider would still occupy a slot another tenant needs).
 */
export class TenantCallLimiter {
  private readonly running = new Map<string, number>();
  private total = 0;

  constructor(
    /** Calls a tenant may always run at once. */
    readonly share: number,
    /** The worker's activity slots; borrowing stops `share` short of them. Default: no borrowing. */
    readonly capacity = share,
  ) {}

  /** A release function, or null when the tenant is at its share and the worker has none to lend. */
  tryAcquire(tenantId: string): (() => void) | null {
    const now = this.running.get(tenantId) ?? 0;
    if (now >= this.share && this.total + 1 > this.capacity - this.share) return null;
    this.running.set(tenantId, now + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.running.get(tenantId) ?? 1) - 1;
      if (left > 0) this.running.set(tenantId, left);
      else this.running.delete(tenantId);
    };
  }

  /** Calls running for a tenant (metrics and tests). */
  inFlight(tenantId: string): number {
    return this.running.get(tenantId) ?? 0;
  }
}

/** The tenant a call is made for: its input's tenantId, else the fairness key it runs under. */
function tenantOf(args: readonly unknown[], ctx: Context): string | undefined {
  const input = args[0] as { tenantId?: unknown } | undefined;
  if (typeof input?.tenantId === 'string') return input.tenantId;
  const key = ctx.info.priority?.fairnessKey;
  return key && key !== PLATFORM_PRIORITY.fairnessKey ? key : undefined;
}

/**
 * The worker interceptor that holds each tenant to its share of provider calls: a call over it, when
 * the worker has nothing to spare, fails at once, before anything is sent, with a non-retryable TenantBusy, and frees its slot for
 * another tenant's task; the workflow waits and calls again (src/workflows/wait-for-tenant-share.ts).
 */
export function tenantShareInterceptor(limiter: TenantCallLimiter): ActivityInterceptorsFactory {
  return (ctx) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        if (!PROVIDER_CALLS.has(ctx.info.activityType)) return next(input);
        const tenantId = tenantOf(input.args, ctx);
        if (tenantId === undefined) return next(input);
        const release = limiter.tryAcquire(tenantId);
        if (!release) {
          tenantShareRefusals.inc({ activity: ctx.info.activityType });
          throw ApplicationFailure.create({
            type: FailureType.TenantBusy,
            nonRetryable: true,
            message: `tenant ${tenantId} has ${limiter.inFlight(tenantId)} provider calls running on this worker, over its share of ${limiter.share} (TENANT_MAX_PROVIDER_CALLS) with none to spare; nothing was sent`,
          });
        }
        try {
          return await next(input);
        } finally {
          release();
        }
      },
    };
    return { inbound };
  };
}
