import { z } from 'zod';
import { newId } from '../../../db/ids.js';
import {
  createCustomer,
  CustomerDeletedError,
  CustomerNotFoundError,
  customerSyncStateOf,
  customerView,
  CustomerVersionMismatchError,
  deleteCustomer,
  editCustomer,
  findCustomer,
  listCustomers,
  type CustomerConflictRow,
  type CustomerRow,
} from '../../../stores/customers/customer-store.js';
import { normalizeAddress, normalizeFields, type CustomerFields } from '../../../domain/customers/fields.js';
import { mergeObject } from '../../../domain/merge-patch.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { claimIdempotencyKey, requestHash, requireIdempotencyKey, storeIdempotentResponse } from '../../idempotency.js';
import { answerPage, decodeTimeCursor, encodeTimeCursor, pageCursor, pageOut, pageQuery } from '../../common-schemas.js';
import { listCustomerConflicts } from '../../../stores/customers/customer-conflict-list.js';

const text = (max: number) => z.string().trim().max(max);
const addressIn = z.strictObject({
  line1: text(200).nullish(),
  line2: text(200).nullish(),
  city: text(200).nullish(),
  postal_code: text(40).nullish(),
  state: text(200).nullish(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in upper case, e.g. DE')
    .nullish(),
});
const metadataIn = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys');
const fieldsIn = {
  email: z.email().max(320).nullish(),
  name: text(256).nullish(),
  phone: text(40).nullish(),
  address: addressIn.nullish(),
  description: text(1000).nullish(),
  metadata: metadataIn.optional(),
};
const createBody = z.strictObject(fieldsIn).meta({
  examples: [
    {
      email: 'jane.doe@example.com',
      name: 'Jane Doe',
      phone: '+49 30 1234567',
      address: { line1: 'Friedrichstraße 68', city: 'Berlin', postal_code: '10117', country: 'DE' },
      metadata: { crmId: '004812' },
    },
  ],
});
const patchBody = z
  .strictObject({
    ...fieldsIn,
    metadata: z
      .record(z.string().min(1).max(40), z.string().max(500).nullable())
      .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys')
      .nullish()
      .meta({ description: 'Merged into the stored metadata: a key set to null is removed, a key not sent is kept; metadata: null removes every key.' }),
  })
  .refine((b) => Object.keys(b).length > 0, 'at least one field to change is required')
  .meta({
    description: 'A JSON Merge Patch (RFC 7396) of the customer: fields not sent stay as they are, null clears a field; `address` and `metadata` merge key by key.',
    examples: [{ phone: '+49 30 7654321', description: null }, { address: { city: 'Hamburg', postal_code: '20095' }, metadata: { crmId: null, tier: 'gold' } }],
  });
type PatchIn = z.output<typeof patchBody>;
type FieldsIn = z.output<typeof createBody>;

const syncStates = ['pending', 'in_sync', 'failed'] as const;
const listQuery = z.strictObject({
  email: z.string().max(320).optional(),
  updatedSince: z.iso.datetime({ offset: true }).optional().meta({ description: 'Only customers changed at or after this instant' }),
  syncState: z.enum(syncStates).optional().meta({ description: 'Only customers with a connected system in this state' }),
  includeDeleted: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: pageCursor.optional(),
});
const idParams = z.object({ id: z.string().min(1).max(64) });

const addressOut = z
  .object({
    line1: z.string().nullable(),
    line2: z.string().nullable(),
    city: z.string().nullable(),
    postal_code: z.string().nullable(),
    state: z.string().nullable(),
    country: z.string().nullable(),
  })
  .nullable();
export const customerOut = z.object({
  id: z.string(),
  object: z.literal('customer'),
  email: z.string().nullable(),
  name: z.string().nullable(),
  phone: z.string().nullable(),
  address: addressOut,
  description: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  version: z.number().int().positive().meta({ description: 'Grows with every change; send it back in If-Match to update safely' }),
  deleted: z.boolean(),
  workflowId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deletedAt: z.string().nullable(),
}).meta({
  id: 'Customer',
  examples: [
    {
      id: 'cust_8h2kq4m7v9x1t3n5p6rw',
      object: 'customer',
      email: 'jane.doe@example.com',
      name: 'Jane Doe',
      phone: '+49 30 1234567',
      address: { line1: 'Friedrichstraße 68', line2: null, city: 'Berlin', postal_code: '10117', state: null, country: 'DE' },
      description: null,
      metadata: { crmId: '004812' },
      version: 3,
      deleted: false,
      workflowId: 'customer-cust_8h2kq4m7v9x1t3n5p6rw',
      createdAt: '2026-12-07T10:15:30.000Z',
      updatedAt: '2026-12-07T10:15:30.000Z',
      deletedAt: null,
    },
  ],
});

const conflictOut = z.object({
  connectionId: z.string(),
  field: z.string(),
  baseValue: z.unknown(),
  localValue: z.unknown(),
  remoteValue: z.unknown(),
  policy: z.string(),
  decision: z.enum(['local', 'remote']),
  at: z.string(),
});
const CONFLICT_EXAMPLE = {
  connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
  field: 'phone',
  baseValue: '+49 30 1234567',
  localValue: '+49 30 7654321',
  remoteValue: '+49 30 1111111',
  policy: 'most_recent',
  decision: 'local',
  at: '2026-12-07T10:15:30.000Z',
} as const;
const conflictsQuery = z.strictObject({
  connectionId: z.string().min(1).max(64).optional().meta({ description: "Only this connected system's conflicts" }),
  ...pageQuery(20, 100),
});
const conflictPageOut = pageOut(conflictOut).meta({ examples: [{ data: [CONFLICT_EXAMPLE], hasMore: true, nextCursor: 'MTI4' }] });

/** A recorded conflict as the API shows it. */
function conflictView(c: CustomerConflictRow): z.output<typeof conflictOut> {
  return {
    connectionId: c.connectionId,
    field: c.field,
    baseValue: c.baseValue,
    localValue: c.localValue,
    remoteValue: c.remoteValue,
    policy: c.policy,
    decision: c.decision,
    at: c.createdAt.toISOString(),
  };
}

const syncOut = z.object({
  customerId: z.string(),
  version: z.number().int().positive(),
  systems: z.array(
    z.object({
      connectionId: z.string(),
      remoteSystem: z.string(),
      remoteId: z.string().nullable(),
      state: z.enum(syncStates),
      failureReason: z.string().nullable(),
      lastSyncedVersion: z.number().int().nonnegative(),
      lastSyncedAt: z.string().nullable(),
    }),
  ),
  conflicts: z.array(conflictOut),
}).meta({
  id: 'CustomerSyncState',
  examples: [
    {
      customerId: 'cust_8h2kq4m7v9x1t3n5p6rw',
      version: 3,
      systems: [
        {
          connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
          remoteSystem: 'stripe',
          remoteId: 'cus_RhYk2LkdIwHu7i',
          state: 'in_sync',
          failureReason: null,
          lastSyncedVersion: 3,
          lastSyncedAt: '2026-12-07T10:15:30.000Z',
        },
      ],
      conflicts: [CONFLICT_EXAMPLE],
    },
  ],
});

/** The API's field names onto the domain's; absent fields keep `base`'s values. */
function applyInput(base: CustomerFields, input: FieldsIn): CustomerFields {
  const address = input.address;
  return normalizeFields({
    ...base,
    ...(input.email !== undefined ? { email: input.email } : {}),
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.phone !== undefined ? { phone: input.phone } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    ...(address !== undefined
      ? {
          address: address && {
            line1: address.line1 ?? null,
            line2: address.line2 ?? null,
            city: address.city ?? null,
            postalCode: address.postal_code ?? null,
            state: address.state ?? null,
            country: address.country ?? null,
          },
        }
      : {}),
  });
}

const ADDRESS_IN = { line1: 'line1', line2: 'line2', city: 'city', postal_code: 'postalCode', state: 'state', country: 'country' } as const;

/**
 * A PATCH merged onto the current fields (RFC 7396): the address's parts and the metadata's keys
 * merge one by one (null clears a part or removes a key, `address: null` clears the address,
 * `metadata: null` removes every key); the other fields are replaced when sent.
 */
function applyPatch(current: CustomerFields, patch: PatchIn): CustomerFields {
  const { address, metadata, ...flat } = patch;
  const next = applyInput(current, flat);
  if (address !== undefined) {
    const parts = address && Object.entries(ADDRESS_IN).filter(([api]) => address[api as keyof typeof ADDRESS_IN] !== undefined);
    next.address = parts
      ? normalizeAddress({ ...current.address, ...Object.fromEntries(parts.map(([api, part]) => [part, address[api as keyof typeof ADDRESS_IN]])) })
      : null;
  }
  if (metadata !== undefined) {
    const merged = metadata === null ? {} : (mergeObject(current.metadata, metadata) as Record<string, string>);
    if (Object.keys(merged).length > 50) {
      throw new ApiError(400, 'validation_failed', 'the merged metadata has more than 50 keys', [{ path: 'body.metadata', message: 'at most 50 keys after the merge; remove some with null' }]);
    }
    next.metadata = merged;
  }
  return next;
}

/** `If-Match: "3"` (or 3, or a weak W/"3") → 3; absent → undefined (an unconditional write). */
function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) {
    throw new ApiError(400, 'validation_failed', 'If-Match must be the customer version, e.g. "3"', [
      { path: 'headers.if-match', message: 'the version from a previous response, e.g. "3"' },
    ]);
  }
  return Number(m[1]);
}

/** The customer store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof CustomerNotFoundError) throw ApiError.notFound('customer', err.customerId);
  if (err instanceof CustomerVersionMismatchError) throw new ApiError(412, 'precondition_failed', err.message);
  if (err instanceof CustomerDeletedError) throw new ApiError(409, 'conflict', err.message);
  throw err;
}

const idempotencyHeader = [{ name: 'Idempotency-Key', required: true, description: 'Unique per logical request; a retry with the same key and body replays the first response' }];
const ifMatchHeader = [{ name: 'If-Match', required: false, description: 'The version you last read; the change is refused with 412 when the customer changed since' }];

/**
 * The tenant's customer catalog. Every write bumps `version` and commits an outbox row in the same
 * transaction; the outbox relay hands it to the customer's sync workflow (`customer-<id>`).
 */
export function customersRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  async function loadOne(tenantId: string, id: string): Promise<CustomerRow> {
    const row = await findCustomer(db, tenantId, id);
    if (!row) throw ApiError.notFound('customer', id);
    return row;
  }

  function send(res: import('express').Response, status: number, row: CustomerRow) {
    res.setHeader('ETag', `"${row.version}"`);
    res.status(status).json(customerView(row));
  }

  return r
    .endpoint(
      'post',
      '/v1/customers',
      {
        operationId: 'createCustomer',
        summary: 'Create a customer',
        description: 'Stored with version 1 and synced to every connection with customer sync enabled (settings.customerSync.enabled).',
        body: createBody,
        headers: idempotencyHeader,
        responses: { 201: { description: 'Created', schema: customerOut } },
      },
      async ({ body, tenant, req, res }) => {
        const key = requireIdempotencyKey(req.get('idempotency-key'));
        const scope = { tenantId: tenant.id, scope: 'customers', key };
        const id = newId('cust');
        const result = await db.transaction(async (tx) => {
          const claim = await claimIdempotencyKey(tx, { ...scope, hash: requestHash(body), resourceId: id });
          if (claim.kind === 'replay') return { claim, row: undefined };
          const row = await createCustomer(tx, { id, tenantId: tenant.id, fields: applyInput(normalizeFields({}), body) });
          await storeIdempotentResponse(tx, scope, 201, customerView(row));
          return { claim, row };
        });
        if (result.claim.kind === 'replay') {
          res.setHeader('Idempotent-Replayed', 'true');
          if (result.claim.status !== null) return void res.status(result.claim.status).json(result.claim.body);
          return send(res, 201, await loadOne(tenant.id, result.claim.resourceId));
        }
        send(res, 201, result.row!);
      },
    )
    .endpoint(
      'get',
      '/v1/customers/:id',
      { operationId: 'getCustomer', summary: 'Get a customer (deleted ones too, marked deleted)', params: idParams, responses: { 200: { description: 'The customer', schema: customerOut } } },
      async ({ params, tenant, res }) => send(res, 200, await loadOne(tenant.id, params.id)),
    )
    .endpoint(
      'patch',
      '/v1/customers/:id',
      {
        operationId: 'updateCustomer',
        summary: 'Change a customer',
        description:
          'A JSON Merge Patch (RFC 7396): only the fields sent change, null clears one; `address` parts and `metadata` keys merge one by one (null removes a key), as Stripe merges metadata. ' +
          'Accepts `application/json` and `application/merge-patch+json`. With If-Match, 412 when the version moved on.',
        params: idParams,
        body: patchBody,
        headers: ifMatchHeader,
        responses: { 200: { description: 'The changed customer', schema: customerOut } },
      },
      async ({ params, body, tenant, req, res }) => {
        const expected = ifMatchVersion(req.get('if-match'));
        const row = await editCustomer(db, tenant.id, params.id, expected, (current) => applyPatch(current, body)).catch(refusal);
        send(res, 200, row);
      },
    )
    .endpoint(
      'delete',
      '/v1/customers/:id',
      {
        operationId: 'deleteCustomer',
        summary: 'Delete a customer (a tombstone that syncs)',
        description: 'The record stays readable, marked deleted; the deletion is carried to every connected system. Deleting again changes nothing.',
        params: idParams,
        headers: ifMatchHeader,
        responses: { 200: { description: 'The deleted customer', schema: customerOut } },
      },
      async ({ params, tenant, req, res }) => {
        const expected = ifMatchVersion(req.get('if-match'));
        const row = await deleteCustomer(db, tenant.id, params.id, expected).catch(refusal);
        send(res, 200, row);
      },
    )
    .endpoint(
      'get',
      '/v1/customers',
      {
        operationId: 'listCustomers',
        summary: 'List customers, least recently changed first',
        description: 'Page with `cursor`; filter by exact email, by change time (`updatedSince`) or by sync state with any connected system.',
        query: listQuery,
        responses: { 200: { description: 'A page', schema: pageOut(customerOut) } },
      },
      async ({ query, tenant, res }) => {
        const { rows, more } = await listCustomers(db, tenant.id, {
          ...(query.email ? { email: query.email } : {}),
          ...(query.updatedSince ? { updatedSince: new Date(query.updatedSince) } : {}),
          ...(query.syncState ? { syncState: query.syncState } : {}),
          ...(query.cursor ? { after: decodeTimeCursor(query.cursor) } : {}),
          includeDeleted: query.includeDeleted === 'true',
          limit: query.limit,
        });
        const last = rows[rows.length - 1];
        res.json({ data: rows.map(customerView), hasMore: more, nextCursor: more && last ? encodeTimeCursor(last.updatedAt, last.id) : null });
      },
    )
    .endpoint(
      'get',
      '/v1/customers/:id/sync',
      {
        operationId: 'getCustomerSyncState',
        summary: "A customer's sync state per connected system, and its recorded conflicts",
        params: idParams,
        responses: { 200: { description: 'Sync state', schema: syncOut } },
      },
      async ({ params, tenant, res }) => {
        const row = await loadOne(tenant.id, params.id);
        const { systems, conflicts } = await customerSyncStateOf(db, row);
        res.json({
          customerId: row.id,
          version: row.version,
          systems: systems.map((system) => ({ ...system, lastSyncedAt: system.lastSyncedAt?.toISOString() ?? null })),
          conflicts: conflicts.map(conflictView),
        });
      },
    )
    .endpoint(
      'get',
      '/v1/customers/:id/sync/conflicts',
      {
        operationId: 'listCustomerSyncConflicts',
        summary: "A customer's recorded sync conflicts, oldest first, a page at a time",
        description: 'Every same-field conflict a merge recorded, with the values on each side and the decision. Page with `cursor` (`hasMore`, `nextCursor`); nothing is cut off silently.',
        params: idParams,
        query: conflictsQuery,
        responses: { 200: { description: 'A page', schema: conflictPageOut } },
      },
      async ({ params, query, tenant, res }) => {
        const row = await loadOne(tenant.id, params.id);
        res.json(await answerPage(listCustomerConflicts(db, row, { connectionId: query.connectionId }, query), conflictView));
      },
    );
}
