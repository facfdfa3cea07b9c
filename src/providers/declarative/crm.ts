/**
 * The customer-sync side of a declarative provider: a `customerSync` section (endpoints, field
 * mapping, events, webhook signature) becomes a {@link CustomerSyncProvider}, so a REST CRM is a
 * YAML file and the sync engine does not change. Every call goes through the factory's fetch (the
 * egress guard) with the definition's auth, like the payment actions.
 */
import { createHash } from 'node:crypto';
import {
  ADDRESS_PARTS,
  normalizeFields,
  sameValue,
  type CustomerAddress,
  type CustomerFields,
} from '../../domain/customers/fields.js';
import { parsePath, readPath } from '../../domain/template.js';
import {
  RemoteRateLimitedError,
  RemoteVersionConflictError,
  type CustomerSyncAdapter,
  type RemoteCustomer,
  type RemoteCustomerEvent,
} from '../crm-client.js';
import { rateLimitDelayOf, retryAfterOf } from '../retry-after.js';
import {
  GatewayError,
  InvalidCredentialsError,
  WebhookPayloadError,
  WebhookSignatureError,
  type ConnectionClient,
  type ConnectionContext,
  type CustomerSyncProvider,
  type GatewayWebhookEvent,
  type HeaderBag,
  type HealthProbe,
} from '../types.js';
import type { CustomerSyncDefinition, CustomerSyncEndpointName, ProviderDefinition } from './definition.js';
import { decodeReadState, encodeReadState, modifiedAfterValue, type ReadState } from './crm-paging.js';
import { errorActionOf, IGNORABLE_CRM_ENDPOINTS, ruleMessage, type ErrorActionRule } from './error-rules.js';
import { buildRequest, readString, type IncomingResponse, type OutgoingRequest } from './http.js';
import { nextPosition, pageUrl, PaginationError, positionKey, type PagePosition } from './pagination.js';
import {
  httpFailure,
  outboundError,
  redactSecrets,
  sendAuthorized,
  type ConnectionRuntime,
  type OutboundConnection,
  type OutboundErrorArgs,
} from './outbound.js';
import { headerValues, verifyWebhookSignature } from './webhook-signature.js';
import { keepsRecord } from './record-filter.js';

type EventMapping = CustomerSyncDefinition['events'];
type Vars = Record<string, unknown>;

/** Pages of the change feed read per catch-up at most (bulk work stays bounded; the next run resumes). */
const MAX_FEED_PAGES = 10;
/**
 * Records one list or change-feed page may hold. Feeds ask for about 100 a page; a 5 MB answer (the
 * egress cap) could hold a million tiny ones, each mapped and signalled on a worker shared by tenants.
 */
const MAX_PAGE_ITEMS = 10_000;
/** A remote id that cannot exist: its lookup proves credentials and reachability. */
const PROBE_ID = 'switchyard-credential-check';

/** One mapped leaf of our fields: `address.city` → `postal_address.city`. */
interface MappedLeaf {
  key: string;
  path: string;
  read(f: CustomerFields): unknown;
}

function mappedLeaves(fields: CustomerSyncDefinition['fields']): MappedLeaf[] {
  const leaves: MappedLeaf[] = [];
  for (const k of ['email', 'name', 'phone', 'description', 'metadata'] as const) {
    const path = fields[k];
    if (path) leaves.push({ key: k, path, read: (f) => f[k] });
  }
  for (const part of ADDRESS_PARTS) {
    const path = fields.address?.[part];
    if (path) leaves.push({ key: `address.${part}`, path, read: (f) => f.address?.[part] ?? null });
  }
  return leaves;
}

/** Sets `value` at `path` inside `target`, creating objects and arrays on the way. */
export function writePath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = parsePath(path);
  let current: Record<string | number, unknown> = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      current[key] = value;
      return;
    }
    const next = keys[i + 1];
    const existing = current[key];
    if (existing === null || typeof existing !== 'object') current[key] = typeof next === 'number' ? [] : {};
    current = current[key] as Record<string | number, unknown>;
  });
}

/** The part of a path before its first array index (an array is replaced whole by most APIs), or null. */
function arrayRoot(path: string): string | null {
  const keys = parsePath(path);
  const at = keys.findIndex((k) => typeof k === 'number');
  return at < 0 ? null : JSON.stringify(keys.slice(0, at));
}

function asText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** ISO 8601 text, or epoch seconds / milliseconds (a number below 10^11 is seconds). */
export function epochMsOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return epochMsOf(Number(value));
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Reads one event (a webhook body or a change-feed item); null when it is not about customers. */
export function customerEventFrom(mapping: EventMapping, item: unknown, deliveryId?: string): RemoteCustomerEvent | null {
  const type = readString(item, mapping.type);
  const kind = type !== undefined && Object.hasOwn(mapping.kinds, type) ? mapping.kinds[type] : undefined;
  // Without an id in the body: the delivery's id (its header, else a hash of the raw body), or for a
  // change-feed item a hash of the item, so a redelivery still dedupes.
  const eventId = mapping.eventId
    ? readString(item, mapping.eventId)
    : (deliveryId ?? `sha256:${createHash('sha256').update(JSON.stringify(item) ?? '').digest('hex')}`);
  const remoteId = readString(item, mapping.remoteId);
  const occurredAt = epochMsOf(readPath(item, mapping.occurredAt));
  if (!kind || !eventId || !remoteId || occurredAt === undefined) return null;
  return { eventId, kind, remoteId, occurredAt, localId: readString(item, mapping.localId) ?? null };
}

/** The declarative customer-sync provider of one definition, plus the pieces the factory wires in. */
export interface DeclarativeCustomerSync extends CustomerSyncProvider {
  /** Verifies the signature over the raw body with the connection's secret, then reads the event id and type. */
  parseWebhook(
    credentials: Record<string, string>,
    rawBody: Buffer,
    headers: HeaderBag,
    nowMs: number,
  ): GatewayWebhookEvent;
  /** The connection's client (probe and webhooks, no payments), for a provider that only syncs customers. */
  client(rt: ConnectionRuntime): ConnectionClient;
}

export function createDeclarativeCustomerSync(
  definition: ProviderDefinition,
  spec: CustomerSyncDefinition,
  runtimeOf: (ctx: ConnectionContext) => ConnectionRuntime,
): DeclarativeCustomerSync {
  const leaves = mappedLeaves(spec.fields);

  const provider: DeclarativeCustomerSync = {
    customerEventOf: (payload, deliveryId) => customerEventFrom(spec.events, payload, deliveryId),
    connect: (ctx) => new DeclarativeCustomerAdapter(definition, spec, leaves, runtimeOf(ctx)),
    parseWebhook(credentials, rawBody, headers, nowMs) {
      const rule = spec.webhook?.signature;
      if (!rule) throw new WebhookSignatureError(`${definition.name} does not send webhooks`);
      const secret = credentials[rule.secretCredential];
      if (!secret)
        throw new WebhookSignatureError(
          `Connection has no '${rule.secretCredential}' credential to verify webhooks`,
        );
      verifyWebhookSignature(rule, secret, rawBody, headers, nowMs);
      let payload: unknown;
      try {
        payload = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw new WebhookPayloadError('Webhook body is not valid JSON');
      }
      const deliveryId = rule.idHeader ? headerValues(headers, rule.idHeader)[0]?.trim() : undefined;
      const eventId =
        (spec.events.eventId ? readString(payload, spec.events.eventId) : undefined) ??
        (deliveryId || `sha256:${createHash('sha256').update(rawBody).digest('hex')}`);
      return { eventId, type: readString(payload, spec.events.type) ?? 'unknown' };
    },
    client: (rt) =>
      new CustomerSystemClient(
        definition,
        new DeclarativeCustomerAdapter(definition, spec, leaves, rt),
        (raw, headers) => provider.parseWebhook(rt.connection.credentials, raw, headers, rt.now()),
      ),
  };
  return provider;
}

/** One connection's customers at the remote system, driven by the definition. */
export class DeclarativeCustomerAdapter implements CustomerSyncAdapter {
  private readonly outbound: OutboundConnection;
  readonly versioned: boolean;

  constructor(
    private readonly def: ProviderDefinition,
    private readonly spec: CustomerSyncDefinition,
    private readonly leaves: MappedLeaf[],
    private readonly rt: ConnectionRuntime,
  ) {
    this.outbound = { ...rt, definition: def, credentials: rt.connection.credentials };
    this.versioned = spec.record.version !== undefined;
  }

  async create(
    fields: CustomerFields,
    link: { localId: string; idempotencyKey: string },
  ): Promise<RemoteCustomer> {
    const record: Record<string, unknown> = {};
    for (const leaf of this.leaves) {
      const value = this.wireValue(leaf, null, fields);
      if (value !== null) writePath(record, leaf.path, value);
    }
    if (this.spec.record.localId) writePath(record, this.spec.record.localId, link.localId);
    const res = await this.send(
      'create',
      { localId: link.localId, idempotencyKey: link.idempotencyKey },
      this.wrap(record),
    );
    return this.recordOf('create', res.body);
  }

  async update(
    remoteId: string,
    before: CustomerFields,
    after: CustomerFields,
    link: { localId: string; idempotencyKey: string; version?: string },
  ): Promise<RemoteCustomer> {
    const changed = this.leaves.filter((leaf) => !sameValue(leaf.read(before), leaf.read(after)));
    // An array is replaced whole: a changed item sends every mapped item of its array.
    const roots = new Set(changed.map((l) => arrayRoot(l.path)).filter((r) => r !== null));
    const sent = this.leaves.filter(
      (leaf) => changed.includes(leaf) || roots.has(arrayRoot(leaf.path) ?? ''),
    );
    if (sent.length === 0) {
      // Nothing the remote system holds changed: its record is already current.
      const current = await this.retrieve(remoteId);
      if (!current) throw this.error('hard_decline', 'resource_missing', `record ${remoteId} does not exist`);
      return current;
    }
    const record: Record<string, unknown> = {};
    for (const leaf of sent) writePath(record, leaf.path, this.wireValue(leaf, before, after));
    const { conflictStatuses } = this.spec.endpoints.update;
    const res = await this.send(
      'update',
      { remoteId, localId: link.localId, idempotencyKey: link.idempotencyKey, ...this.versionVar(link.version) },
      this.wrap(record),
      this.versioned ? conflictStatuses : [],
    );
    if (this.versioned && conflictStatuses.includes(res.status))
      throw new RemoteVersionConflictError(`${this.def.name} update of ${remoteId}: version ${link.version ?? '(none)'} is stale (${res.status})`);
    if (res.body === '' || res.body === null) {
      const current = await this.retrieve(remoteId);
      if (!current) throw this.error('hard_decline', 'resource_missing', `record ${remoteId} does not exist`);
      return current;
    }
    return this.recordOf('update', res.body);
  }

  async delete(remoteId: string, idempotencyKey: string, version?: string): Promise<void> {
    const { notFoundStatuses, goneStatuses } = this.spec.endpoints.retrieve;
    // A delete has no conflictStatuses of its own: the update's say what "stale version" looks like.
    const conflicts = this.versioned ? this.spec.endpoints.update.conflictStatuses : [];
    const res = await this.send('delete', { remoteId, idempotencyKey, ...this.versionVar(version) }, undefined, [
      ...notFoundStatuses,
      ...goneStatuses,
      ...conflicts,
    ]);
    if (!res.ignored && conflicts.includes(res.status) && !notFoundStatuses.includes(res.status) && !goneStatuses.includes(res.status))
      throw new RemoteVersionConflictError(`${this.def.name} delete of ${remoteId}: version ${version ?? '(none)'} is stale (${res.status})`);
  }

  async retrieve(remoteId: string): Promise<RemoteCustomer | null> {
    const { notFoundStatuses, goneStatuses } = this.spec.endpoints.retrieve;
    const res = await this.send('retrieve', { remoteId }, undefined, [...notFoundStatuses, ...goneStatuses]);
    if (res.ignored || notFoundStatuses.includes(res.status)) return null;
    if (goneStatuses.includes(res.status))
      return { remoteId, fields: normalizeFields({}), localId: null, deleted: true };
    return this.recordOf('retrieve', res.body);
  }

  async changesSince(
    cursor: string | null,
  ): Promise<{ events: RemoteCustomerEvent[]; cursor: string | null }> {
    const feed = this.spec.endpoints.changes;
    if (!feed) {
      return this.spec.endpoints.list?.modifiedAfter ? this.modifiedSince(cursor) : { events: [], cursor };
    }
    const events: RemoteCustomerEvent[] = [];
    if (!feed.pagination) {
      // nextCursor/hasMore: the feed's own resume token, kept as the cursor.
      let at = cursor;
      for (let page = 0; page < MAX_FEED_PAGES; page++) {
        const { items, next } = await this.page('changes', at === null ? null : { cursor: at });
        events.push(...items.flatMap((item) => customerEventFrom(feed.event, item) ?? []));
        const moved = next !== null && next.cursor !== at;
        if (moved) at = next.cursor;
        if (!next?.more || !moved) break;
      }
      return { events, cursor: at };
    }
    // A paginated feed resumes at its last page (re-read: new items may have joined it).
    let at = cursor === null ? null : this.readState('changes', cursor).position;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_FEED_PAGES; page++) {
      seen.add(positionKey(at));
      const { items, next } = await this.page('changes', at);
      events.push(...items.flatMap((item) => customerEventFrom(feed.event, item) ?? []));
      if (next === null) break;
      if (seen.has(positionKey(next.position))) {
        throw this.error('hard_decline', 'pagination_loop', 'changes: pagination goes back to a page already read');
      }
      at = next.position;
    }
    return { events, cursor: encodeReadState({ position: at }) };
  }

  /** One page of every record (backfill and drift detection); `cursor` null starts at the beginning. */
  async list(cursor: string | null): Promise<{ records: RemoteCustomer[]; cursor: string | null }> {
    const endpoint = this.spec.endpoints.list;
    if (!endpoint)
      throw this.error('hard_decline', 'action_not_supported', 'customerSync.endpoints.list is not defined');
    if (!endpoint.pagination) {
      const { items, next } = await this.page('list', cursor === null ? null : { cursor });
      return { records: items.map((item) => this.fromRecord('list', item)), cursor: next?.more ? next.cursor : null };
    }
    const state: ReadState = cursor === null ? { position: null } : this.readState('list', cursor);
    const { items, next } = await this.page('list', state.position, state.since);
    return {
      records: items.map((item) => this.fromRecord('list', item)),
      cursor: next === null ? null : encodeReadState({ ...state, position: next.position }),
    };
  }

  // --- internals ---

  /**
   * Records changed since the last read, for a system without a change feed: `list` filtered by
   * `modifiedAfter` from the time the previous read started, less the lookback. The first read
   * (no cursor) only starts the clock: reconciliation's full scan covers everything before it.
   */
  private async modifiedSince(cursor: string | null): Promise<{ events: RemoteCustomerEvent[]; cursor: string | null }> {
    const list = this.spec.endpoints.list!;
    const filter = list.modifiedAfter!;
    const startedNow = this.rt.now();
    if (cursor === null) return { events: [], cursor: encodeReadState({ position: null, since: startedNow }) };
    const state = this.readState('changes', cursor);
    if (state.since === undefined) throw this.error('hard_decline', 'invalid_cursor', 'changes: the stored cursor is not a modifiedAfter read');
    const started = state.started ?? startedNow;
    const since = state.since - filter.lookbackSeconds * 1000;
    const events: RemoteCustomerEvent[] = [];
    const seen = new Set<string>();
    let at = state.position;
    for (let page = 0; page < MAX_FEED_PAGES; page++) {
      seen.add(positionKey(at));
      const { items, next } = await this.page('list', at, since);
      for (const item of items) {
        const record = this.fromRecord('list', item);
        events.push({
          eventId: `modified-${record.remoteId}-${started}`,
          kind: record.deleted ? 'deleted' : 'updated',
          remoteId: record.remoteId,
          occurredAt: started,
          localId: record.localId,
        });
      }
      const nextAt = next === null ? null : list.pagination ? next.position : next.more ? { cursor: next.cursor } : null;
      if (nextAt === null) return { events, cursor: encodeReadState({ position: null, since: started }) };
      if (seen.has(positionKey(nextAt))) {
        throw this.error('hard_decline', 'pagination_loop', 'list: pagination goes back to a page already read');
      }
      at = nextAt;
    }
    // Pages remain: the next read continues this one, with the same filter.
    return { events, cursor: encodeReadState({ position: at, since: state.since, started }) };
  }

  private readState(name: 'changes' | 'list', cursor: string): ReadState {
    const state = decodeReadState(cursor);
    if (!state) throw this.error('hard_decline', 'invalid_cursor', `${name}: the cursor was not made by this definition's pagination`);
    return state;
  }

  /**
   * One page at `position` (`{cursor}` is sent as {{cursor}} with nextCursor, by the declared
   * pagination otherwise), filtered by `modifiedAfter` when `since` is given. `next` is null on the
   * last page; with nextCursor it is the raw cursor and whether more pages follow.
   */
  private async page(
    name: 'changes' | 'list',
    position: PagePosition,
    since?: number,
  ): Promise<{ items: unknown[]; next: { position: PagePosition; cursor: string; more: boolean } | null }> {
    const endpoint = this.spec.endpoints[name]!;
    const paging = endpoint.pagination;
    const legacyCursor = !paging && position && 'cursor' in position ? position.cursor : undefined;
    const modifiedAfter = name === 'list' && since !== undefined ? this.spec.endpoints.list?.modifiedAfter : undefined;
    let requested: URL | undefined;
    let res: IncomingResponse;
    try {
      res = await this.send(name, legacyCursor === undefined ? {} : { cursor: legacyCursor }, undefined, [], (request) => {
        if (modifiedAfter) request.url.searchParams.set(modifiedAfter.param, modifiedAfterValue(modifiedAfter, since!));
        if (paging) request.url = pageUrl(paging, request.url, position, this.rt.baseUrl);
        requested = request.url;
      });
    } catch (err) {
      if (err instanceof PaginationError) throw this.error('hard_decline', 'pagination_refused', `${name}: ${err.message}`);
      // A read over the egress size cap would be as large on every retry: the definition must ask for less.
      if (err instanceof GatewayError && err.code === 'response_too_large') throw new GatewayError('hard_decline', err.code, err.message);
      throw err;
    }
    const items = readPath(res.body, endpoint.items);
    if (!Array.isArray(items))
      throw this.error('ambiguous', 'malformed_response', `${name}: no array at '${endpoint.items}'`);
    if (items.length > MAX_PAGE_ITEMS) {
      throw this.error('hard_decline', 'page_too_large', `${name}: ${items.length} records in one page, over the ${MAX_PAGE_ITEMS}-record cap; ask for smaller pages`);
    }
    // The page's own length decides paging (a short page ends it); the filter only drops items from it.
    const kept = endpoint.filter ? items.filter((item) => keepsRecord(endpoint.filter, item)) : items;
    if (paging) {
      let next: PagePosition;
      try {
        next = nextPosition(paging, position, { url: requested!, headers: res.headers, body: res.body, count: items.length }, this.rt.baseUrl);
      } catch (err) {
        if (err instanceof PaginationError) throw this.error('hard_decline', 'pagination_refused', `${name}: ${err.message}`);
        throw err;
      }
      return { items: kept, next: next === null ? null : { position: next, cursor: '', more: true } };
    }
    const cursor = readString(res.body, endpoint.nextCursor) ?? null;
    const more = endpoint.hasMore ? readPath(res.body, endpoint.hasMore) === true : items.length > 0;
    return { items: kept, next: cursor === null ? null : { position: { cursor }, cursor, more } };
  }

  /** `{{version}}` for a write's templates, when the record had one (`{{version | optional}}` allows none). */
  private versionVar(version: string | undefined): Vars {
    return version !== undefined ? { version } : {};
  }

  /** The value sent for a leaf: metadata carries removed keys as null (most APIs merge objects). */
  private wireValue(leaf: MappedLeaf, before: CustomerFields | null, after: CustomerFields): unknown {
    if (leaf.key !== 'metadata') return leaf.read(after);
    const removed = Object.keys(before?.metadata ?? {}).filter((k) => !(k in after.metadata));
    return { ...Object.fromEntries(removed.map((k) => [k, null])), ...after.metadata };
  }

  private wrap(record: Record<string, unknown>): Record<string, unknown> {
    if (!this.spec.record.root) return record;
    const body: Record<string, unknown> = {};
    writePath(body, this.spec.record.root, record);
    return body;
  }

  private recordOf(name: CustomerSyncEndpointName, body: unknown): RemoteCustomer {
    const record = this.spec.record.root ? readPath(body, this.spec.record.root) : body;
    return this.fromRecord(name, record);
  }

  private fromRecord(name: CustomerSyncEndpointName, record: unknown): RemoteCustomer {
    const { id, localId, deleted, version } = this.spec.record;
    const remoteId = readString(record, id);
    if (!remoteId)
      throw this.error('ambiguous', 'malformed_response', `${name}: the record has no id at '${id}'`);
    const f = this.spec.fields;
    const text = (path: string | undefined) => (path ? asText(readPath(record, path)) : null);
    const rawMetadata = f.metadata ? readPath(record, f.metadata) : undefined;
    const metadata: Record<string, string> = {};
    if (rawMetadata && typeof rawMetadata === 'object' && !Array.isArray(rawMetadata)) {
      for (const [k, v] of Object.entries(rawMetadata)) {
        const value = asText(v);
        if (value !== null) metadata[k] = value;
      }
    }
    const address = Object.fromEntries(
      ADDRESS_PARTS.map((p) => [p, text(f.address?.[p])]),
    ) as unknown as CustomerAddress;
    const linked = localId ? readString(record, localId) : undefined;
    const gone = deleted ? Boolean(readPath(record, deleted)) : false;
    const revision = version ? asText(readPath(record, version)) : null;
    return {
      ...(revision !== null ? { version: revision } : {}),
      remoteId,
      fields: gone
        ? normalizeFields({})
        : normalizeFields({
            email: text(f.email),
            name: text(f.name),
            phone: text(f.phone),
            description: text(f.description),
            address,
            metadata,
          }),
      localId: linked ?? null,
      deleted: gone,
    };
  }

  /**
   * Sends one endpoint's request with auth (a 401 with refreshable auth refreshes the token once) and
   * turns failures into typed errors; statuses in `accept` are answers, not failures.
   */
  private async send(
    name: CustomerSyncEndpointName,
    extra: Vars,
    body?: Record<string, unknown>,
    accept: number[] = [],
    adjust?: (request: OutgoingRequest) => void,
  ): Promise<IncomingResponse & { ignored?: true }> {
    const endpoint = this.spec.endpoints[name];
    if (!endpoint)
      throw this.error(
        'hard_decline',
        'action_not_supported',
        `customerSync.endpoints.${name} is not defined`,
      );
    const vars: Vars = {
      credentials: this.rt.connection.credentials,
      settings: this.rt.connection.settings,
      ...extra,
    };
    // Bodies are data, never templates: customer fields must not be interpreted.
    const request = buildRequest(
      this.rt.baseUrl,
      {
        method: endpoint.method,
        path: endpoint.path,
        query: endpoint.query,
        headers: endpoint.headers,
        idempotencyHeader: endpoint.idempotencyHeader,
      },
      vars,
    );
    adjust?.(request);
    if (body) {
      request.body = JSON.stringify(body);
      request.headers['content-type'] = 'application/json';
    }
    const where = `${name} (${endpoint.method} ${endpoint.path})`;
    const ruleOf = (r: IncomingResponse) => errorActionOf(endpoint.onError, r.status, r.body);
    const res = await sendAuthorized(this.outbound, request, where, (r) => ruleOf(r)?.action === 'refresh_auth');
    const rule = ruleOf(res);
    if (rule) return this.ruleOutcome(rule, res, name, where);
    if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
    if (res.status === 429) {
      const retryAfterMs = retryAfterOf(res.status, (h) => res.headers.get(h), this.rt.now());
      throw new RemoteRateLimitedError(
        redactSecrets(this.outbound, `${this.def.name} ${where}: rate limited`),
        retryAfterMs,
      );
    }
    throw httpFailure(this.outbound, res, where);
  }

  /** What an `onError` rule makes of an answer: `ignore` is "nothing there" (retrieve, delete), the rest a typed failure. */
  private ruleOutcome(rule: ErrorActionRule, res: IncomingResponse, name: CustomerSyncEndpointName, where: string): IncomingResponse & { ignored: true } {
    const text = `${where}: ${ruleMessage(rule, res.status)}`;
    switch (rule.action) {
      case 'ignore':
        if (IGNORABLE_CRM_ENDPOINTS.includes(name)) return { ...res, ignored: true };
        throw this.error('hard_decline', 'ignored_answer', `${text}; ignore applies to retrieve and delete only`, res.status);
      case 'retry':
        throw this.error('retryable', `http_${res.status}`, text, res.status);
      case 'fail':
        throw this.error('hard_decline', `http_${res.status}`, text, res.status);
      case 'rate_limited':
        throw new RemoteRateLimitedError(
          redactSecrets(this.outbound, `${this.def.name} ${where}: rate limited`),
          rateLimitDelayOf((h) => res.headers.get(h), this.rt.now()),
        );
      case 'refresh_auth':
        throw new InvalidCredentialsError(
          redactSecrets(this.outbound, `${this.def.name}: credentials refused on ${text}${this.outbound.auth.refreshable ? ' (after fetching a new token)' : ''}`),
        );
    }
  }

  private error(...args: OutboundErrorArgs): GatewayError {
    return outboundError(this.outbound, ...args);
  }
}

/**
 * The client of a provider that only syncs customers: it takes no payments (routing skips it, as its
 * capabilities are empty), checks credentials and health with a lookup, and verifies its webhooks.
 */
/**
 * The client of a provider that only syncs customers: the connection probe (a retrieve of a record
 * that cannot exist proves the credentials and the reach) and webhook verification; no payments.
 */
class CustomerSystemClient implements ConnectionClient {
  constructor(
    private readonly def: ProviderDefinition,
    private readonly adapter: DeclarativeCustomerAdapter,
    private readonly webhooks: (rawBody: Buffer, headers: HeaderBag) => GatewayWebhookEvent,
  ) {}

  async verifyCredentials(): Promise<{ account: string }> {
    await this.adapter.retrieve(PROBE_ID);
    return { account: this.def.displayName };
  }

  async checkHealth(): Promise<HealthProbe> {
    const started = Date.now();
    try {
      await this.adapter.retrieve(PROBE_ID);
      return { ok: true, latencyMs: Date.now() - started };
    } catch (err) {
      if (
        err instanceof GatewayError ||
        err instanceof InvalidCredentialsError ||
        err instanceof RemoteRateLimitedError
      ) {
        return { ok: false, latencyMs: Date.now() - started, detail: err.message };
      }
      throw err;
    }
  }

  parseWebhook(rawBody: Buffer, headers: HeaderBag): GatewayWebhookEvent {
    return this.webhooks(rawBody, headers);
  }
}
