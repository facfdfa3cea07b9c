import { Router } from 'express';
import { z } from 'zod';
import { buildCustomer, type AddressObject, type CustomerObject } from '../customer-object.js';
import { parseSearchQuery } from '../search-query.js';
import type { StripeEmulatorStore } from '../store.js';
import { resourceMissing } from '../stripe-errors.js';
import { inRange, listParams, rangeFilter, searchParams, searchResultOf, stripeRoute } from '../stripe-route.js';

/** A form string where '' unsets the field, as at Stripe. */
const unsettable = z
  .string()
  .transform((v) => (v === '' ? null : v))
  .optional();
const address = z
  .union([
    z.literal('').transform(() => null),
    z.object({
      city: z.string().optional(),
      country: z.string().optional(),
      line1: z.string().optional(),
      line2: z.string().optional(),
      postal_code: z.string().optional(),
      state: z.string().optional(),
    }),
  ])
  .transform((a): AddressObject | null =>
    a === null
      ? null
      : {
          city: a.city || null,
          country: a.country || null,
          line1: a.line1 || null,
          line2: a.line2 || null,
          postal_code: a.postal_code || null,
          state: a.state || null,
        },
  )
  .optional();
/** `metadata[k]=v` sets, `metadata[k]=` removes a key, `metadata=` removes them all. */
const metadataChange = z.union([z.record(z.string(), z.string()), z.literal('')]).optional();
const writable = {
  email: unsettable,
  name: unsettable,
  phone: unsettable,
  description: unsettable,
  address,
  metadata: metadataChange,
  expand: z.array(z.string()).optional(),
};
const createParams = z.object(writable);
const updateParams = z.object(writable);
const listCustomerParams = listParams.extend({ email: z.string().optional(), created: rangeFilter });

const SEARCH_URL = '/v1/customers/search';

function applyMetadata(current: Record<string, string>, change: Record<string, string> | '' | undefined): Record<string, string> {
  if (change === undefined) return current;
  if (change === '') return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(change)) {
    if (v === '') delete next[k];
    else next[k] = v;
  }
  return next;
}

/** Customers: create, retrieve, update, delete, list and search, each emitting its `customer.*` event. */
export function customersRouter(store: StripeEmulatorStore): Router {
  const router = Router();
  const find = (account: string, id: string): CustomerObject => {
    const customer = store.customers.get(account, id);
    if (!customer) throw resourceMissing('customer', id);
    return customer;
  };

  router.post(
    '/v1/customers',
    stripeRoute(createParams, (p, ctx) => {
      const customer = buildCustomer({ ...p, metadata: applyMetadata({}, p.metadata) });
      store.customers.set(ctx.account, customer.id, customer);
      store.emit(ctx, 'customer.created', customer);
      return customer;
    }),
  );

  // Registered before /:id so that "search" is not taken for an id.
  router.get(
    SEARCH_URL,
    stripeRoute(searchParams, (p, ctx) => {
      const matches = parseSearchQuery<CustomerObject>(
        p.query,
        { email: (c) => c.email, name: (c) => c.name, phone: (c) => c.phone, created: (c) => c.created },
        'customers',
      );
      return searchResultOf(store.customers.list(ctx.account).filter(matches), SEARCH_URL, p.limit, p.page);
    }),
  );

  router.get(
    '/v1/customers',
    stripeRoute(listCustomerParams, (p, ctx) => {
      const matches = (c: CustomerObject) => (p.email === undefined || c.email === p.email) && inRange(c.created, p.created);
      const { data, hasMore } = store.customers.newestFirst(ctx.account, p.limit ?? 10, p.starting_after, matches);
      return { object: 'list' as const, data, has_more: hasMore, url: '/v1/customers' };
    }),
  );

  router.get(
    '/v1/customers/:id',
    stripeRoute(z.object({ expand: z.array(z.string()).optional() }), (_p, ctx) => {
      const id = ctx.pathParams['id'] ?? '';
      if (store.deletedCustomers.get(ctx.account, id)) return { id, object: 'customer', deleted: true };
      return find(ctx.account, id);
    }),
  );

  router.post(
    '/v1/customers/:id',
    stripeRoute(updateParams, (p, ctx) => {
      const customer = find(ctx.account, ctx.pathParams['id'] ?? '');
      const before = structuredClone(customer);
      const { expand: _expand, metadata, ...fields } = p;
      Object.assign(customer, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));
      customer.metadata = applyMetadata(customer.metadata, metadata);
      // previous_attributes: the old values of what changed (metadata: only its changed keys).
      const previous: Record<string, unknown> = {};
      for (const key of ['email', 'name', 'phone', 'description', 'address'] as const) {
        if (JSON.stringify(before[key]) !== JSON.stringify(customer[key])) previous[key] = before[key];
      }
      const changedKeys = new Set([...Object.keys(before.metadata), ...Object.keys(customer.metadata)]);
      const metadataBefore = Object.fromEntries(
        [...changedKeys].filter((k) => before.metadata[k] !== customer.metadata[k]).map((k) => [k, before.metadata[k] ?? null]),
      );
      if (Object.keys(metadataBefore).length > 0) previous['metadata'] = metadataBefore;
      if (Object.keys(previous).length > 0) store.emit(ctx, 'customer.updated', customer, previous);
      return customer;
    }),
  );

  router.delete(
    '/v1/customers/:id',
    stripeRoute(z.object({}), (_p, ctx) => {
      const customer = find(ctx.account, ctx.pathParams['id'] ?? '');
      store.customers.delete(ctx.account, customer.id);
      store.deletedCustomers.set(ctx.account, customer.id, true);
      store.emit(ctx, 'customer.deleted', customer);
      return { id: customer.id, object: 'customer', deleted: true };
    }),
  );

  return router;
}
