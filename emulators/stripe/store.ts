import { newId, unixNow } from './ids.js';
import type {
  ChargeObject,
  EventObject,
  PaymentIntentObject,
  RefundObject,
  WebhookEndpointObject,
} from './objects.js';
import type { CustomerObject } from './customer-object.js';
import type { WebhookDispatcher, WebhookTarget } from './webhook-delivery.js';

/** Who made a request: objects belong to the API key (the "account") that created them. */
export interface RequestContext {
  account: string;
  /** Null for changes that happen outside a request (an async settlement). */
  requestId: string | null;
  idempotencyKey: string | null;
}

interface Owned<T> {
  account: string;
  value: T;
}

/** A registry of objects owned by accounts; another account's object is invisible (404). */
class OwnedMap<T> {
  private readonly items = new Map<string, Owned<T>>();

  set(account: string, id: string, value: T): void {
    this.items.set(id, { account, value });
  }

  get(account: string, id: string): T | undefined {
    const item = this.items.get(id);
    return item && item.account === account ? item.value : undefined;
  }

  delete(account: string, id: string): boolean {
    return this.get(account, id) !== undefined && this.items.delete(id);
  }

  /** In insertion order. */
  list(account?: string): T[] {
    return [...this.items.values()]
      .filter((i) => account === undefined || i.account === account)
      .map((i) => i.value);
  }

  clear(): void {
    this.items.clear();
  }
}

/** All in-memory state of one emulator instance, and event emission. */
export class StripeEmulatorStore {
  readonly paymentIntents = new OwnedMap<PaymentIntentObject>();
  readonly charges = new OwnedMap<ChargeObject>();
  readonly refunds = new OwnedMap<RefundObject>();
  readonly webhookEndpoints = new OwnedMap<WebhookEndpointObject>();
  readonly events = new OwnedMap<EventObject>();
  readonly customers = new OwnedMap<CustomerObject>();
  /** Ids of deleted customers: retrieving one answers `{ deleted: true }`, as at Stripe. */
  readonly deletedCustomers = new OwnedMap<true>();
  /** Successful charges (authorisations included) per `metadata.payment_id`. */
  readonly successfulChargesByPaymentId = new Map<string, number>();

  constructor(
    private readonly dispatcher: WebhookDispatcher,
    private readonly apiVersion: string,
    /** Receives every event of every account (the `webhookUrl` option). */
    private readonly globalTarget: WebhookTarget | null,
  ) {}

  recordSuccessfulCharge(intent: PaymentIntentObject): void {
    const paymentId = intent.metadata['payment_id'];
    if (paymentId === undefined) return;
    this.successfulChargesByPaymentId.set(
      paymentId,
      (this.successfulChargesByPaymentId.get(paymentId) ?? 0) + 1,
    );
  }

  /** Records an event with a snapshot of `object` and hands it to every subscribed endpoint. */
  emit(
    ctx: RequestContext,
    type: string,
    object: object,
    previousAttributes?: Record<string, unknown>,
  ): EventObject {
    const targets: WebhookTarget[] = this.webhookEndpoints
      .list(ctx.account)
      .filter(
        (e) => e.status === 'enabled' && (e.enabled_events.includes('*') || e.enabled_events.includes(type)),
      )
      .map((e) => ({ url: e.url, secret: e.secret ?? '', endpointId: e.id }));
    if (this.globalTarget) targets.push(this.globalTarget);
    const event: EventObject = {
      id: newId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: unixNow(),
      data: {
        object: structuredClone(object),
        ...(previousAttributes ? { previous_attributes: previousAttributes } : {}),
      },
      livemode: false,
      pending_webhooks: targets.length,
      request: { id: ctx.requestId, idempotency_key: ctx.idempotencyKey },
      type,
    };
    this.events.set(ctx.account, event.id, event);
    for (const target of targets) this.dispatcher.enqueue(event, target);
    return event;
  }

  clear(): void {
    this.paymentIntents.clear();
    this.charges.clear();
    this.refunds.clear();
    this.webhookEndpoints.clear();
    this.events.clear();
    this.customers.clear();
    this.deletedCustomers.clear();
    this.successfulChargesByPaymentId.clear();
  }
}
