/**
 * The events Switchyard pushes to merchants: every type, the kind of resource it describes (events
 * of one resource are numbered 1, 2, 3... and delivered in that order), and the patterns a webhook
 * endpoint subscribes with (`payment.succeeded`, `payment.*`, `erp.run.*`, `*`). Pure data and
 * functions; the payload schema of each type is the API's presentation of its resource
 * (src/api/routes/events/event-payloads.ts), since an event carries the state the API would show.
 */

/** What an event describes; the `resource.type` of its body. */
export const EVENT_RESOURCE_TYPES = [
  'payment',
  'refund',
  'customer',
  'integration_run',
  'dead_letter',
  'product',
  'price',
  'inventory',
  'order',
  'connection',
  'integration',
  'webhook_endpoint',
] as const;
export type EventResourceType = (typeof EVENT_RESOURCE_TYPES)[number];

/** One entry of the catalog. */
export interface EventTypeInfo {
  resource: EventResourceType;
  /** When it is emitted, as the OpenAPI document and the docs say it. */
  description: string;
}

/** Every event type, with its resource and when it happens. */
export const EVENT_CATALOG = {
  'payment.succeeded': { resource: 'payment', description: 'A payment was charged (captured in full or in part with automatic capture).' },
  'payment.failed': { resource: 'payment', description: 'A payment failed for good: every eligible gateway declined or errored.' },
  'payment.requires_action': { resource: 'payment', description: 'A payment waits for the payer (3-D Secure, a redirect, a bank transfer to be made).' },
  'payment.authorized': { resource: 'payment', description: 'A payment with manual capture was authorized and can be captured.' },
  'payment.captured': { resource: 'payment', description: 'An authorized payment was captured.' },
  'payment.canceled': { resource: 'payment', description: 'A payment was canceled before it was charged (an authorization released).' },
  'payment.refunded': { resource: 'payment', description: 'Everything captured on a payment has been refunded.' },
  'payment.partially_refunded': { resource: 'payment', description: 'Part of a payment has been refunded.' },
  'refund.succeeded': { resource: 'refund', description: 'A refund settled at the gateway.' },
  'refund.failed': { resource: 'refund', description: 'A refund was refused by the gateway or could not be made.' },
  'customer.created': { resource: 'customer', description: 'A customer was created in the local catalog.' },
  'customer.updated': { resource: 'customer', description: 'A customer changed (through the API or a merge from a connected system).' },
  'customer.deleted': { resource: 'customer', description: 'A customer was deleted (a tombstone that syncs).' },
  'customer.sync_failed': { resource: 'customer', description: 'A customer could not be synced to a connected system.' },
  'customer.sync_conflict': { resource: 'customer', description: 'A field changed on both sides; the conflict policy decided which value stands.' },
  'erp.run.completed': { resource: 'integration_run', description: 'An ERP integration run finished (records read, upserted, dead-lettered).' },
  'erp.run.failed': { resource: 'integration_run', description: 'An ERP integration run failed.' },
  'erp.dead_letter.created': { resource: 'dead_letter', description: 'An ERP record did not map or validate and was dead-lettered.' },
  'erp.dead_letter.closed': { resource: 'dead_letter', description: 'A dead letter was dismissed by the tenant, or resolved by a later valid record of the same key.' },
  'product.updated': { resource: 'product', description: 'An ERP integration created or changed a product.' },
  'price.updated': { resource: 'price', description: 'An ERP integration created or changed a price.' },
  'inventory.changed': { resource: 'inventory', description: 'An ERP integration changed a stock level.' },
  'order.created': { resource: 'order', description: 'An ERP integration brought in a new order.' },
  'connection.health_changed': { resource: 'connection', description: "A connection's health check result changed (healthy, unhealthy)." },
  'connection.circuit_opened': { resource: 'connection', description: "A connection's circuit breaker opened: routing skips it until it recovers." },
  'integration.paused': { resource: 'integration', description: 'An ERP integration was paused (by the tenant or after repeated failures).' },
  'webhook_endpoint.disabled': { resource: 'webhook_endpoint', description: 'A webhook endpoint was disabled (by the tenant, after a 410, or after failing too long).' },
} as const satisfies Record<string, EventTypeInfo>;

export type EventType = keyof typeof EVENT_CATALOG;
/** The resource type of events of type `T`. */
export type EventResourceOf<T extends EventType> = (typeof EVENT_CATALOG)[T]['resource'];

/** Every event type, in catalog order. */
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value);
}

/** The resource type events of `type` describe. */
export function resourceTypeOf<T extends EventType>(type: T): EventResourceOf<T> {
  return EVENT_CATALOG[type].resource;
}

/** Longest pattern an endpoint may store (the longest type is far shorter). */
export const MAX_PATTERN_LENGTH = 100;

/** Lower-case segments of letters, digits and underscores, joined by dots. */
const SEGMENTS = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;

/**
 * Why `pattern` is not a valid subscription, or null. A pattern is `*` (every type), an exact type of
 * the catalog, or a prefix of whole segments followed by `.*` (`payment.*`, `erp.*`, `erp.run.*`)
 * that matches at least one type: a typo (`paymnt.*`, `payment.succeded`) is refused rather than
 * stored as a subscription that never fires.
 */
export function patternProblem(pattern: string): string | null {
  if (pattern === '*') return null;
  if (pattern.length === 0) return 'is empty; use an event type, a prefix such as payment.*, or *';
  if (pattern.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -2);
    if (!SEGMENTS.test(prefix)) {
      return `"${pattern}" is malformed: a wildcard is a prefix of whole segments followed by .* (e.g. payment.*), or * alone`;
    }
    if (!EVENT_TYPES.some((t) => t.startsWith(`${prefix}.`))) return `"${pattern}" matches no event type`;
    return null;
  }
  if (!SEGMENTS.test(pattern)) {
    return `"${pattern}" is malformed: use an event type such as payment.succeeded, a prefix such as payment.*, or *`;
  }
  if (!isEventType(pattern)) return `"${pattern}" is not an event type`;
  return null;
}

/** Whether `type` is matched by `pattern` (a pattern that passed {@link patternProblem}). */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Whether any of an endpoint's patterns matches `type`. */
export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => patternMatches(p, type));
}

/** The catalog types `patterns` match, in catalog order (a filter of GET /v1/events as exact types). */
export function typesMatching(patterns: readonly string[]): EventType[] {
  return EVENT_TYPES.filter((t) => matchesAny(patterns, t));
}
