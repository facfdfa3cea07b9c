import { describe, expect, it } from 'vitest';
import {
  EVENT_CATALOG,
  EVENT_RESOURCE_TYPES,
  EVENT_TYPES,
  isEventType,
  matchesAny,
  patternMatches,
  patternProblem,
  resourceTypeOf,
  typesMatching,
} from '../../src/domain/events/event-types.js';

/** The types issue #19 asks for, at least. */
const REQUIRED = [
  ...['succeeded', 'failed', 'requires_action', 'authorized', 'captured', 'canceled', 'refunded', 'partially_refunded'].map((v) => `payment.${v}`),
  'refund.succeeded',
  'refund.failed',
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'customer.sync_failed',
  'customer.sync_conflict',
  'erp.run.completed',
  'erp.run.failed',
  'erp.dead_letter.created',
  'erp.dead_letter.closed',
  'product.updated',
  'price.updated',
  'inventory.changed',
  'order.created',
  'connection.health_changed',
  'connection.circuit_opened',
  'integration.paused',
  'webhook_endpoint.disabled',
];

describe('event catalog', () => {
  it('has every type the issue lists, each with a known resource type and a description', () => {
    expect([...EVENT_TYPES].sort()).toEqual([...REQUIRED].sort());
    for (const type of EVENT_TYPES) {
      expect(EVENT_RESOURCE_TYPES).toContain(EVENT_CATALOG[type].resource);
      expect(EVENT_CATALOG[type].description.length).toBeGreaterThan(10);
    }
  });

  it.each([
    ['payment.partially_refunded', 'payment'],
    ['refund.failed', 'refund'],
    ['customer.sync_conflict', 'customer'],
    ['erp.run.failed', 'integration_run'],
    ['erp.dead_letter.created', 'dead_letter'],
    ['inventory.changed', 'inventory'],
    ['connection.circuit_opened', 'connection'],
    ['webhook_endpoint.disabled', 'webhook_endpoint'],
  ] as const)('%s describes a %s', (type, resource) => {
    expect(resourceTypeOf(type)).toBe(resource);
  });

  it.each([
    ['payment.succeeded', true],
    ['payment.*', false],
    ['payment', false],
    ['Payment.succeeded', false],
    ['toString', false],
    ['__proto__', false],
  ])('isEventType(%j) is %s', (value, expected) => {
    expect(isEventType(value)).toBe(expected);
  });
});

describe('patterns', () => {
  it.each([
    ['*'],
    ['payment.succeeded'],
    ['payment.*'],
    ['erp.*'],
    ['erp.run.*'],
    ['erp.dead_letter.*'],
    ['webhook_endpoint.*'],
  ])('%j is a valid pattern', (pattern) => {
    expect(patternProblem(pattern)).toBeNull();
  });

  it.each([
    ['', /empty/],
    ['payment.succeded', /"payment.succeded" is not an event type/],
    ['paymnt.*', /"paymnt.\*" matches no event type/],
    ['erp.run.completed.*', /matches no event type/],
    ['payment*', /malformed/],
    ['*.succeeded', /malformed/],
    ['payment.**', /malformed/],
    ['payment..succeeded', /malformed/],
    ['.payment', /malformed/],
    ['PAYMENT.*', /malformed/],
    ['payment.succeeded ', /malformed/],
    ['**', /malformed/],
    ['pay ment.*', /malformed/],
    ['x'.repeat(101), /longer than 100/],
  ])('%j is refused (%s)', (pattern, message) => {
    expect(patternProblem(pattern)).toMatch(message);
  });

  it.each([
    ['*', 'payment.succeeded', true],
    ['*', 'webhook_endpoint.disabled', true],
    ['payment.*', 'payment.succeeded', true],
    ['payment.*', 'payment.partially_refunded', true],
    ['payment.*', 'refund.succeeded', false],
    ['erp.*', 'erp.run.completed', true],
    ['erp.*', 'erp.dead_letter.created', true],
    ['erp.run.*', 'erp.run.failed', true],
    ['erp.run.*', 'erp.dead_letter.created', false],
    ['customer.*', 'customer.sync_failed', true],
    // A prefix matches whole segments only.
    ['customer.*', 'customers.created', false],
    ['payment.succeeded', 'payment.succeeded', true],
    ['payment.succeeded', 'payment.failed', false],
  ])('%j matches %j: %s', (pattern, type, expected) => {
    expect(patternMatches(pattern, type)).toBe(expected);
  });

  it('matchesAny is true when one pattern matches', () => {
    expect(matchesAny(['refund.*', 'customer.created'], 'customer.created')).toBe(true);
    expect(matchesAny(['refund.*', 'customer.created'], 'customer.updated')).toBe(false);
    expect(matchesAny([], 'customer.updated')).toBe(false);
  });

  it.each([
    [['payment.*'], 8],
    [['erp.*'], 4],
    [['erp.run.*', 'refund.succeeded'], 3],
    [['*'], EVENT_TYPES.length],
    [['customer.*', 'customer.created'], 5],
  ])('typesMatching(%j) lists %i types, each once', (patterns, n) => {
    const types = typesMatching(patterns);
    expect(types).toHaveLength(n);
    expect(new Set(types).size).toBe(n);
    for (const t of types) expect(matchesAny(patterns, t)).toBe(true);
  });
});
