import type { Client } from '@temporalio/client';
import { createConnectionActivities } from '../activities/connection-activities.js';
import { createCustomerSyncActivities } from '../activities/customers/customer-sync-activities.js';
import { createDeadLetterReplayActivities } from '../activities/erp/dead-letter-replay.js';
import { createEventRetentionActivities } from '../activities/events/event-retention-activities.js';
import { createWebhookDeliveryActivities, type WebhookDeliveryDeps } from '../activities/events/webhook-delivery-activities.js';
import { createErpActivities, type ErpActivityDeps } from '../activities/erp/erp-activities.js';
import { createHealthActivities } from '../activities/payments/health-activities.js';
import {
  createPaymentActivities,
  type PaymentActivityDeps,
} from '../activities/payments/payment-activities.js';
import { createReconciliationActivities } from '../activities/payments/reconciliation-activities.js';
import type { Database } from '../db/client.js';
import type { TaskQueueFamily, TaskQueues } from '../shared/task-queues.js';
import { signalCustomerSync } from '../temporal/customers/signal-customer-sync.js';
import { CustomerOutboxRelay } from './customer-outbox-relay.js';
import { EventRelay } from './event-relay.js';

/**
 * `erpFetch` and `webhookFetch` are the egress guard: ERP sources and webhook endpoints are
 * tenant-supplied URLs, so there is no unguarded default.
 */
export type WorkerDeps = PaymentActivityDeps &
  Pick<ErpActivityDeps, 'erpFetch'> &
  Partial<Pick<ErpActivityDeps, 'erpUrlPolicy' | 'erpCircuit' | 'erpLimits'>> &
  Pick<WebhookDeliveryDeps, 'webhookFetch'> &
  Partial<Pick<WebhookDeliveryDeps, 'webhookSettings'>>;

/** What a family's registration is given: the shared dependencies and this process's Temporal client. */
export interface FamilyContext {
  deps: WorkerDeps;
  client: Client;
  queues: TaskQueues;
  /** The database's LISTEN (Database.listen), for services that wake on committed changes. */
  listen?: Database['listen'];
}

/** A service that runs beside a family's worker and lives and dies with the process. */
export interface BackgroundService {
  start(): void;
  stop(): Promise<void>;
}

/** One family as a worker process serves it: the activities on its task queue, and its services. */
export interface FamilyRegistration {
  activities(ctx: FamilyContext): object;
  background?(ctx: FamilyContext): BackgroundService;
}

/**
 * Every family's worker registration, in one place: a family in TASK_QUEUE_FAMILIES without an entry
 * here does not compile. Workflows are registered by export from src/workflows/index.ts.
 */
export const FAMILIES = {
  connections: {
    activities: ({ deps }) => createConnectionActivities(deps),
  },
  payments: {
    activities: ({ deps }) => ({
      ...createPaymentActivities(deps),
      ...createHealthActivities(deps),
      ...createReconciliationActivities(deps),
    }),
  },
  customers: {
    activities: ({ deps, client, queues }) =>
      createCustomerSyncActivities({
        ...deps,
        customerSignals: (customer, change) => signalCustomerSync(client, queues.customers, customer, change),
      }),
    // The outbox relay lives with the process that syncs: it signals committed local changes.
    background: ({ deps, client, queues, listen }) =>
      new CustomerOutboxRelay({
        db: deps.db,
        client,
        taskQueue: queues.customers,
        ...(listen ? { listen } : {}),
      }),
  },
  erp: {
    activities: ({ deps }) => ({
      ...createErpActivities({ ...deps, erpUrlPolicy: deps.erpUrlPolicy ?? { allowPrivateNetworks: false } }),
      ...createDeadLetterReplayActivities(deps),
    }),
  },
  events: {
    activities: ({ deps }) => ({ ...createWebhookDeliveryActivities(deps), ...createEventRetentionActivities(deps) }),
    // The relay lives with the process that delivers: it fans committed events out to the endpoints.
    background: ({ deps, client, queues, listen }) =>
      new EventRelay({ db: deps.db, client, taskQueue: queues.events, ...(listen ? { listen } : {}) }),
  },
} satisfies Record<TaskQueueFamily, FamilyRegistration>;
