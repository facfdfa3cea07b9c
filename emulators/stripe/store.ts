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

/** One account's objects, in insertion order, with each id's position (for list pages). */
interface AccountItems<T> {
  byId: Map<string, T>;
  order: { id: string; value: T }[];
  position: Map<string, number>;
}

/**
 * A registry of objects owned by accounts; another account's object is invisible (404). Indexed per
 * account, with positions, so a list page costs its own size, not the account's (benches hold
 * 100,000s of customers).
 */
class OwnedMap<T> {
  private readonly items = new Map<string, Owned<T>>();
  private readonly byAccount = new Map<string, AccountItems<T>>();

  constructor(private readonly changed: () => void) {}

  set(account: string, id: string, value: T): void {
    this.changed();
    this.items.set(id, { account, value });
    let own = this.byAccount.get(account);
    if (!own) this.byAccount.set(account, (own = { byId: new Map(), order: [], position: new Map() }));
    const at = own.position.get(id);
    if (at === undefined) {
      own.position.set(id, own.order.length);
      own.order.push({ id, value });
    } else own.order[at] = { id, value };
    own.byId.set(id, value);
  }

  get(account: string, id: string): T | undefined {
    return this.byAccount.get(account)?.byId.get(id);
  }

  delete(account: string, id: string): boolean {
    const own = this.byAccount.get(account);
    const at = own?.position.get(id);
    if (!own || at === undefined) return false;
    this.changed();
    own.byId.delete(id);
    own.order.splice(at, 1);
    own.position.delete(id);
    for (let i = at; i < own.order.length; i++) own.position.set(own.order[i]!.id, i);
    return this.items.delete(id);
  }

  /** In insertion order. */
  list(account?: string): T[] {
    if (account !== undefined) return [...(this.byAccount.get(account)?.byId.values() ?? [])];
    return [...this.items.values()].map((i) => i.value);
  }

  /**
   * A list page, newest first, of the account's objects that `matches`, starting after the object
   * `startingAfter` (Stripe's cursor): walks back from the cursor only as far as the page needs.
   */
  newestFirst(account: string, limit: number, startingAfter?: string, matches: (value: T) => boolean = () => true): { data: T[]; hasMore: boolean } {
    const own = this.byAccount.get(account);
    if (!own) return { data: [], hasMore: false };
    let i = startingAfter === undefined ? own.order.length - 1 : (own.position.get(startingAfter) ?? own.order.length) - 1;
    const data: T[] = [];
    for (; i >= 0; i--) {
      const { value } = own.order[i]!;
      if (!matches(value)) continue;
      if (data.length === limit) return { data, hasMore: true };
      data.push(value);
    }
    return { data, hasMore: false };
  }

  /** Every object with its account, in insertion order (a state file's content). */
  entries(): OwnedEntry<T>[] {
    return [...this.items].map(([id, { account, value }]) => [account, id, value]);
  }

  clear(): void {
    this.changed();
    this.items.clear();
    this.byAccount.clear();
  }
}

type OwnedEntry<T> = [account: string, id: string, value: T];

const OBJECT_KINDS = ['paymentIntents', 'charges', 'refunds', 'webhookEndpoints', 'events', 'customers', 'deletedCustomers'] as const;

/** A store's objects as plain JSON (see `StripeEmulatorOptions.stateFile`). */
export type StoreSnapshot = Record<(typeof OBJECT_KINDS)[number], OwnedEntry<unknown>[]> & {
  successfulChargesByPaymentId: [string, number][];
};

/** All in-memory state of one emulator instance, and event emission. */
export class StripeEmulatorStore {
  /** Called whenever an object is added or removed (in-place changes all emit an event, which is added). */
  onChange: () => void = () => {};
  private readonly changed = () => this.onChange();
  readonly paymentIntents = new OwnedMap<PaymentIntentObject>(this.changed);
  readonly charges = new OwnedMap<ChargeObject>(this.changed);
  readonly refunds = new OwnedMap<RefundObject>(this.changed);
  readonly webhookEndpoints = new OwnedMap<WebhookEndpointObject>(this.changed);
  readonly events = new OwnedMap<EventObject>(this.changed);
  readonly customers = new OwnedMap<CustomerObject>(this.changed);
  /** Ids of deleted customers: retrieving one answers `{ deleted: true }`, as at Stripe. */
  readonly deletedCustomers = new OwnedMap<true>(this.changed);
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
    this.changed();
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

  snapshot(): StoreSnapshot {
    const objects = Object.fromEntries(OBJECT_KINDS.map((kind) => [kind, this[kind].entries()]));
    return { ...objects, successfulChargesByPaymentId: [...this.successfulChargesByPaymentId] } as StoreSnapshot;
  }

  /** Adds the objects of a snapshot (taken by `snapshot()`, read back from a state file). */
  restore(snapshot: StoreSnapshot): void {
    for (const kind of OBJECT_KINDS) {
      const map = this[kind] as OwnedMap<unknown>;
      for (const [account, id, value] of snapshot[kind]) map.set(account, id, value);
    }
    for (const [paymentId, count] of snapshot.successfulChargesByPaymentId) this.successfulChargesByPaymentId.set(paymentId, count);
  }

  clear(): void {
    this.changed();
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
