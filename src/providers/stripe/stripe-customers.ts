import Stripe from 'stripe';
import { normalizeFields, sameValue, type CustomerAddress, type CustomerFields } from '../../domain/customers/fields.js';
import {
  LOCAL_ID_METADATA_KEY,
  RemoteRateLimitedError,
  type CustomerSyncAdapter,
  type RemoteCustomer,
  type RemoteCustomerEvent,
} from '../crm-client.js';
import { rateLimitDelayOf } from '../retry-after.js';
import { GatewayError, type CustomerSyncProvider } from '../types.js';
import { classifyStripeError } from './error-classification.js';

const KINDS = { 'customer.created': 'created', 'customer.updated': 'updated', 'customer.deleted': 'deleted' } as const;

function addressOf(a: Stripe.Address | null | undefined): Partial<CustomerAddress> | null {
  return a ? { line1: a.line1, line2: a.line2, city: a.city, postalCode: a.postal_code, state: a.state, country: a.country } : null;
}

function toRemote(customer: Stripe.Customer | Stripe.DeletedCustomer): RemoteCustomer {
  if ('deleted' in customer && customer.deleted) {
    return { remoteId: customer.id, fields: normalizeFields({}), localId: null, deleted: true };
  }
  const c = customer as Stripe.Customer;
  const { [LOCAL_ID_METADATA_KEY]: localId, ...metadata } = c.metadata;
  return {
    remoteId: c.id,
    fields: normalizeFields({ email: c.email, name: c.name, phone: c.phone, address: addressOf(c.address), description: c.description, metadata }),
    localId: localId ?? null,
    deleted: false,
  };
}

/** Stripe unsets a field with '' (and a metadata key with `key: ''`). */
function addressParam(a: CustomerAddress | null): Stripe.AddressParam | '' {
  if (!a) return '';
  return { line1: a.line1 ?? '', line2: a.line2 ?? '', city: a.city ?? '', postal_code: a.postalCode ?? '', state: a.state ?? '', country: a.country ?? '' };
}

function params(before: CustomerFields | null, after: CustomerFields, localId: string): Stripe.CustomerUpdateParams {
  const out: Stripe.CustomerUpdateParams = {};
  const changed = <K extends keyof CustomerFields>(k: K) => !before || !sameValue(before[k], after[k]);
  if (changed('email')) out.email = after.email ?? '';
  if (changed('name')) out.name = after.name ?? '';
  if (changed('phone')) out.phone = after.phone ?? '';
  if (changed('description')) out.description = after.description ?? '';
  if (changed('address')) out.address = addressParam(after.address);
  if (changed('metadata') || !before) {
    const removed = Object.keys(before?.metadata ?? {}).filter((k) => !(k in after.metadata));
    out.metadata = { ...Object.fromEntries(removed.map((k) => [k, ''])), ...after.metadata, [LOCAL_ID_METADATA_KEY]: localId };
  }
  return out;
}

/** Throttling carries the wait Stripe's rate-limit headers ask for when it sent one; everything else is classified as for payments. */
function classify(error: unknown): unknown {
  if (error instanceof Stripe.errors.StripeError && error.statusCode === 429) {
    const headers = error.headers as Record<string, string | undefined> | undefined;
    return new RemoteRateLimitedError('Stripe rate limit', rateLimitDelayOf((name) => headers?.[name]));
  }
  return classifyStripeError(error);
}

async function call<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw classify(error);
  }
}

const isMissing = (e: unknown) => e instanceof GatewayError && e.code === 'resource_missing';

/** Pages read per catch-up at most (bulk work stays bounded per connection; the next run resumes). */
const MAX_EVENT_PAGES = 10;

/** Customers at Stripe through the official SDK (built with maxNetworkRetries: 0; Temporal retries). */
export class StripeCustomerAdapter implements CustomerSyncAdapter {
  constructor(
    private readonly stripe: Stripe,
    private readonly eventOf: (payload: unknown) => RemoteCustomerEvent | null,
  ) {}

  async changesSince(cursor: string | null): Promise<{ events: RemoteCustomerEvent[]; cursor: string | null }> {
    // Stripe lists newest first: read back until the cursor (the newest event seen last time).
    const seen: Stripe.Event[] = [];
    let startingAfter: string | undefined;
    for (let page = 0; page < MAX_EVENT_PAGES; page++) {
      const list = await call(() =>
        this.stripe.events.list({ types: Object.keys(KINDS), limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) }),
      );
      const stop = list.data.findIndex((e) => e.id === cursor);
      seen.push(...(stop >= 0 ? list.data.slice(0, stop) : list.data));
      if (stop >= 0 || !list.has_more || cursor === null) break;
      startingAfter = list.data.at(-1)?.id;
    }
    const events = seen.reverse().flatMap((e) => this.eventOf(e) ?? []);
    return { events, cursor: seen.at(-1)?.id ?? cursor };
  }

  async list(cursor: string | null): Promise<{ records: RemoteCustomer[]; cursor: string | null }> {
    // Newest first; a customer created while paging lands before the cursor (its webhook covers it).
    const page = await call(() => this.stripe.customers.list({ limit: 100, ...(cursor ? { starting_after: cursor } : {}) }));
    return { records: page.data.map(toRemote), cursor: page.has_more ? (page.data.at(-1)?.id ?? null) : null };
  }

  async create(fields: CustomerFields, link: { localId: string; idempotencyKey: string }): Promise<RemoteCustomer> {
    const body = params(null, fields, link.localId) as Stripe.CustomerCreateParams;
    return toRemote(await call(() => this.stripe.customers.create(body, { idempotencyKey: link.idempotencyKey })));
  }

  async update(remoteId: string, before: CustomerFields, after: CustomerFields, link: { localId: string; idempotencyKey: string }): Promise<RemoteCustomer> {
    const body = params(before, after, link.localId);
    return toRemote(await call(() => this.stripe.customers.update(remoteId, body, { idempotencyKey: link.idempotencyKey })));
  }

  async delete(remoteId: string, idempotencyKey: string): Promise<void> {
    try {
      await call(() => this.stripe.customers.del(remoteId, {}, { idempotencyKey }));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async retrieve(remoteId: string): Promise<RemoteCustomer | null> {
    try {
      return toRemote(await call(() => this.stripe.customers.retrieve(remoteId)));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }
}

/** Reads `customer.*` events (already verified by the webhook route) and builds adapters. */
export function stripeCustomerSync(createClient: (secretKey: string) => Stripe): CustomerSyncProvider {
  const provider: CustomerSyncProvider = {
    customerEventOf(payload: unknown): RemoteCustomerEvent | null {
      const event = payload as Partial<Stripe.Event> | null;
      const kind = event?.type && Object.hasOwn(KINDS, event.type) ? KINDS[event.type as keyof typeof KINDS] : undefined;
      const object = event?.data?.object as Partial<Stripe.Customer> | undefined;
      if (!kind || !event?.id || typeof event.created !== 'number' || typeof object?.id !== 'string') return null;
      const localId = object.metadata?.[LOCAL_ID_METADATA_KEY] ?? null;
      const base = { eventId: event.id, kind, remoteId: object.id, occurredAt: event.created * 1000, localId, idempotencyKey: event.request?.idempotency_key ?? null };
      // The customer as the event saw it: a re-read record that differs from it changed after the event.
      return kind === 'deleted' ? base : { ...base, fields: toRemote(object as Stripe.Customer).fields };
    },
    connect(ctx) {
      const secretKey = ctx.credentials['secretKey'];
      if (!secretKey) throw new Error('Stripe connection has no secretKey');
      return new StripeCustomerAdapter(createClient(secretKey), provider.customerEventOf);
    },
  };
  return provider;
}
