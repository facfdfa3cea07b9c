import { describe, expect, it } from 'vitest';
import {
  feedingEntity,
  IntegrationInvalidError,
  pollIntervalSeconds,
  requireStreamsForMappings,
  scheduledEntities,
} from '../../src/domain/erp/integration-rules.js';
import { addCounts, ZERO_COUNTS } from '../../src/domain/erp/record-counts.js';

const stream = { path: '/x' };

describe('scheduledEntities', () => {
  it.each([
    ['polling: mapped and streamed', 'polling', { products: stream, prices: stream }, { products: [], orders: [] }, ['products']],
    ['hybrid polls like polling', 'hybrid', { products: stream, orders: stream }, { products: [], orders: [] }, ['products', 'orders']],
    ['webhook-only polls nothing', 'webhook', { products: stream }, { products: [] }, []],
    ['a connector without streams polls nothing', 'polling', undefined, { products: [] }, []],
  ])('%s', (_name, type, streams, mappings, expected) => {
    expect(scheduledEntities({ type, connector: streams ? { streams } : {}, mappings })).toEqual(expected);
  });

  it('keeps the order of ERP_ENTITIES, not of the mappings', () => {
    expect(scheduledEntities({ type: 'polling', connector: { streams: { orders: stream, products: stream } }, mappings: { orders: [], products: [] } })).toEqual([
      'products',
      'orders',
    ]);
  });
});

describe('requireStreamsForMappings', () => {
  it('names every mapped entity without a stream, relative to the definition', () => {
    let caught: unknown;
    try {
      requireStreamsForMappings('polling', { products: stream }, { products: [], prices: [], inventory: [] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IntegrationInvalidError);
    const err = caught as IntegrationInvalidError;
    expect(err.message).toBe('mapped entities need a connector stream');
    expect(err.problems.map((p) => p.path)).toEqual(['connector.streams.prices', 'connector.streams.inventory']);
  });

  it.each([
    ['all mapped entities streamed', 'polling', { products: stream }, { products: [] }],
    ['a webhook integration needs no streams', 'webhook', {}, { products: [] }],
    ['an entity mapped as undefined is not mapped', 'polling', {}, { products: undefined }],
    ['entities fed by another stream (alsoFeeds)', 'polling', { products: { ...stream, alsoFeeds: ['prices', 'inventory'] } }, { products: [], prices: [], inventory: [] }],
  ])('accepts: %s', (_name, type, streams, mappings) => {
    expect(() => requireStreamsForMappings(type, streams, mappings)).not.toThrow();
  });
});

describe('requireStreamsForMappings with a stream that feeds several entities', () => {
  it('refuses an entity fed by a stream whose own entity is not mapped (that stream never runs)', () => {
    let caught: unknown;
    try {
      requireStreamsForMappings('polling', { products: { ...stream, alsoFeeds: ['prices'] } }, { prices: [] });
    } catch (err) {
      caught = err;
    }
    expect((caught as IntegrationInvalidError).problems).toEqual([
      { path: 'mappings.products', message: "'prices' is read by the products stream, which runs only when products is mapped too" },
    ]);
  });

  it('finds the feeding stream of an entity', () => {
    const streams = { products: { ...stream, alsoFeeds: ['inventory'] }, prices: stream };
    expect([feedingEntity(streams, 'products'), feedingEntity(streams, 'inventory'), feedingEntity(streams, 'prices'), feedingEntity(streams, 'orders')]).toEqual([
      'products',
      'products',
      'prices',
      undefined,
    ]);
  });
});

describe('IntegrationInvalidError.messageAt', () => {
  it('says the headline with the paths where the caller received them', () => {
    const err = new IntegrationInvalidError((at) => `${at}connector.baseUrl cannot be rendered`, [{ path: 'connector.baseUrl', message: 'x' }]);
    expect(err.message).toBe('connector.baseUrl cannot be rendered');
    expect(err.messageAt('body.')).toBe('body.connector.baseUrl cannot be rendered');
  });
});

describe('pollIntervalSeconds', () => {
  it.each([
    [{ intervalSeconds: 900 }, 60, 900],
    [{ intervalSeconds: 30 }, 60, 60],
    [{}, 60, 300],
    [{}, 600, 600],
  ])('%j with minimum %i polls every %i s', (settings, minimum, expected) => {
    expect(pollIntervalSeconds(settings, minimum)).toBe(expected);
  });
});

describe('addCounts', () => {
  it('adds field by field and leaves ZERO_COUNTS alone', () => {
    const a = { read: 3, valid: 2, invalid: 1, upserted: 1, unchanged: 1 };
    const b = { read: 10, valid: 9, invalid: 1, upserted: 4, unchanged: 5 };
    expect(addCounts(a, b)).toEqual({ read: 13, valid: 11, invalid: 2, upserted: 5, unchanged: 6 });
    expect(addCounts(ZERO_COUNTS, a)).toEqual(a);
    expect(ZERO_COUNTS).toEqual({ read: 0, valid: 0, invalid: 0, upserted: 0, unchanged: 0 });
  });
});
