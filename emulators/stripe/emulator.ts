import express, { type Express } from 'express';
import { authenticate } from './auth.js';
import { FaultInjector, injectFaults } from './fault-injection.js';
import { newSecret } from './ids.js';
import { IdempotencyStore, type StoredResponse } from './idempotency.js';
import { buildCustomer } from './customer-object.js';
import { PaymentFlow } from './payment-flow.js';
import { recordRequests, stripeHeaders, type RequestRecord } from './request-context.js';
import { balanceRouter } from './routes/balance.js';
import { controlRouter, type StripeEmulatorControls } from './routes/control.js';
import { customersRouter } from './routes/customers.js';
import { eventsRouter } from './routes/events.js';
import { paymentIntentsRouter } from './routes/payment-intents.js';
import { refundsRouter } from './routes/refunds.js';
import { webhookEndpointsRouter } from './routes/webhook-endpoints.js';
import { readStateFile, stateFileWriter } from '../state-file.js';
import { StripeEmulatorStore, type StoreSnapshot } from './store.js';
import { invalidRequest, sendStripeError, stripeErrorHandler } from './stripe-errors.js';
import { parseFormParams } from './stripe-route.js';
import { WebhookDispatcher } from './webhook-delivery.js';

export interface StripeEmulatorOptions {
  /** Secret keys accepted; by default any `sk_test_...` key is. Each key is its own account. */
  apiKeys?: string[];
  /** `Stripe-Version` answered when a request names none, and events' `api_version` (default 2022-04-12). */
  apiVersion?: string;
  /** Receives every event of every account, besides the registered webhook endpoints. */
  webhookUrl?: string;
  /** Signs deliveries to `webhookUrl`; generated (see `webhookSecret` on the handle) when absent. */
  webhookSecret?: string;
  /** Delay before each event's first delivery attempt (default 0). */
  webhookDelayMs?: number;
  /** Delivery attempts per event and endpoint (default 4). */
  webhookMaxAttempts?: number;
  /** Backoff base between delivery attempts, doubled each retry (default 250). */
  webhookRetryBaseMs?: number;
  /** How long `pm_emulator_processing` stays in `processing` (default 1000). */
  processingSettleMs?: number;
  /** Randomness for the failure rate, for reproducible demos (default Math.random). */
  random?: () => number;
  /**
   * A JSON file the objects and idempotent responses are kept in (read at start, written shortly
   * after each change and at shutdown), so a restart keeps them, as Stripe would; absent: in memory
   * only. Faults, webhook deliveries in flight and the request log are not kept.
   */
  stateFile?: string;
}

export interface StripeEmulator extends StripeEmulatorControls {
  /** The Express app, not listening: mount it or use supertest. */
  app: Express;
  /** The secret signing deliveries to `webhookUrl`. */
  webhookSecret: string;
  /** Stops timers and pending webhook deliveries, and writes the state file if there is one. */
  shutdown(): void;
}

export const DEFAULT_STRIPE_API_VERSION = '2022-04-12';

/** What a state file holds: the objects and the stored idempotent responses. */
interface StripeState {
  version: 1;
  objects: StoreSnapshot;
  idempotency: [string, StoredResponse][];
}

/** Builds a Stripe-compatible API (the official SDK can point at it) with in-memory state. */
export function createStripeEmulator(options: StripeEmulatorOptions = {}): StripeEmulator {
  const apiVersion = options.apiVersion ?? DEFAULT_STRIPE_API_VERSION;
  const webhookSecret = options.webhookSecret ?? newSecret('whsec');
  const dispatcher = new WebhookDispatcher({
    delayMs: options.webhookDelayMs ?? 0,
    maxAttempts: options.webhookMaxAttempts ?? 4,
    retryBaseMs: options.webhookRetryBaseMs ?? 250,
    timeoutMs: 5000,
  });
  const store = new StripeEmulatorStore(
    dispatcher,
    apiVersion,
    options.webhookUrl ? { url: options.webhookUrl, secret: webhookSecret } : null,
  );
  const flow = new PaymentFlow(store, options.processingSettleMs ?? 1000);
  const faults = new FaultInjector(options.random);
  const idempotency = new IdempotencyStore();
  const requestLog: RequestRecord[] = [];
  let saved: ReturnType<typeof stateFileWriter> | undefined;
  if (options.stateFile) {
    const kept = readStateFile<StripeState>(options.stateFile);
    if (kept && kept.version !== 1) throw new Error(`${options.stateFile}: unknown Stripe emulator state version ${String(kept.version)}`);
    if (kept) {
      store.restore(kept.objects);
      idempotency.restore(kept.idempotency);
    }
    saved = stateFileWriter(options.stateFile, (): StripeState => ({ version: 1, objects: store.snapshot(), idempotency: idempotency.entries() }));
    store.onChange = saved.changed;
    idempotency.onChange = saved.changed;
  }

  const controls: StripeEmulatorControls = {
    failNext: (o) => faults.failNext(o),
    dropNext: (o) => faults.dropNext(o),
    setFailureRate: (rate, o) => faults.setFailureRate(rate, o),
    clearFaults: () => faults.clear(),
    faults: () => faults.state(),
    pauseWebhooks: () => dispatcher.pause(),
    resumeWebhooks: () => dispatcher.resume(),
    webhooksIdle: () => dispatcher.idle(),
    deliveries: () => dispatcher.deliveries(),
    chargeCount: (paymentId) => store.successfulChargesByPaymentId.get(paymentId) ?? 0,
    chargeCounts: () => Object.fromEntries(store.successfulChargesByPaymentId),
    requests: () => requestLog.map((r) => ({ ...r })),
    events: () => structuredClone(store.events.list()),
    paymentIntents: () => structuredClone(store.paymentIntents.list()),
    customers: () => structuredClone(store.customers.list()),
    seedCustomers: (account, seeds) => {
      for (const seed of seeds) {
        const customer = buildCustomer({ ...seed, metadata: { ...seed.metadata } });
        store.customers.set(account, customer.id, customer);
      }
      return seeds.length;
    },
    reset: () => {
      store.clear();
      idempotency.clear();
      faults.clear();
      dispatcher.clear();
      requestLog.length = 0;
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(controlRouter(controls));

  // Stripe's API: headers, logging, auth, faults, parameters, idempotency, then the resources.
  const api = express.Router();
  api.use(stripeHeaders(apiVersion));
  api.use(recordRequests(requestLog));
  api.use(authenticate(options.apiKeys));
  api.use(injectFaults(faults));
  api.use(express.raw({ type: () => true, limit: '1mb' }));
  api.use(parseFormParams);
  api.use(idempotency.middleware());
  api.use(balanceRouter(flow));
  api.use(paymentIntentsRouter(flow, store));
  api.use(refundsRouter(flow, store));
  api.use(webhookEndpointsRouter(store));
  api.use(customersRouter(store));
  api.use(eventsRouter(store));
  api.use((req, res) => {
    sendStripeError(
      res,
      invalidRequest(
        `Unrecognized request URL (${req.method}: ${req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        {
          status: 404,
        },
      ),
    );
  });
  api.use(stripeErrorHandler);
  app.use(api);

  return {
    ...controls,
    app,
    webhookSecret,
    shutdown: () => {
      flow.close();
      dispatcher.close();
      saved?.flush();
    },
  };
}
