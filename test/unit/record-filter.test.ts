import { describe, expect, it } from 'vitest';
import { keepsRecord, recordFilterSchema } from '../../src/providers/declarative/record-filter.js';
import { connectorSchema } from '../../src/providers/erp/connector-definition.js';

const parse = (filter: unknown) => recordFilterSchema.parse(filter);

describe('record filter', () => {
  it('keeps a record when every condition holds, comparing values as trimmed text', () => {
    const filter = parse([{ path: 'status', equals: 'active' }, { path: 'owner.team', in: ['sales', 'support'] }, { path: 'tags[0]', notEquals: 'test' }]);
    expect(keepsRecord(filter, { status: ' active ', owner: { team: 'sales' }, tags: ['vip'] })).toBe(true);
    expect(keepsRecord(filter, { status: 'active', owner: { team: 'sales' } })).toBe(true); // a missing value is not 'test'
    expect(keepsRecord(filter, { status: 'active', owner: { team: 'hr' } })).toBe(false);
    expect(keepsRecord(filter, { status: 'archived', owner: { team: 'sales' } })).toBe(false);
    expect(keepsRecord(filter, { status: 'active', owner: { team: 'sales' }, tags: ['test'] })).toBe(false);
  });

  it('compares numbers and booleans by their JSON spelling; objects, arrays, null and missing values have no text', () => {
    expect(keepsRecord(parse([{ path: 'n', equals: 1 }]), { n: '1' })).toBe(true);
    expect(keepsRecord(parse([{ path: 'n', equals: '1' }]), { n: 1 })).toBe(true);
    expect(keepsRecord(parse([{ path: 'b', equals: true }]), { b: 'true' })).toBe(true);
    expect(keepsRecord(parse([{ path: 'b', equals: true }]), { b: 1 })).toBe(false);
    expect(keepsRecord(parse([{ path: 'o', equals: '[object Object]' }]), { o: {} })).toBe(false);
    expect(keepsRecord(parse([{ path: 'o', in: [''] }]), { o: null })).toBe(false);
    expect(keepsRecord(parse([{ path: 'o', notEquals: 'x' }]), { o: null })).toBe(true);
  });

  it('exists: present and not null', () => {
    const present = parse([{ path: "['Stok Kodu']", exists: true }]);
    expect(keepsRecord(present, { 'Stok Kodu': '' })).toBe(true);
    expect(keepsRecord(present, { 'Stok Kodu': null })).toBe(false);
    expect(keepsRecord(present, {})).toBe(false);
    expect(keepsRecord(parse([{ path: 'deletedAt', exists: false }]), { deletedAt: null })).toBe(true);
    expect(keepsRecord(parse([{ path: 'deletedAt', exists: false }]), { deletedAt: '2026-01-01' })).toBe(false);
  });

  it('no filter keeps everything', () => {
    expect(keepsRecord(undefined, 'anything')).toBe(true);
  });

  it('refuses a condition without a test, an empty list, a bad path, unknown keys (no patterns)', () => {
    const problems = (filter: unknown) => recordFilterSchema.safeParse(filter).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(problems([{ path: 'a' }])).toEqual(['0: a condition needs equals, notEquals, in or exists']);
    expect(problems([])).toHaveLength(1);
    expect(problems([{ path: 'a..b', equals: 'x' }])?.[0]).toMatch(/^0\.path: not a valid path/);
    expect(problems([{ path: 'a', matches: '(a+)+$' }])?.[0]).toMatch(/^0: Unrecognized key/);
    expect(problems([{ path: 'a', in: [] }])?.[0]).toMatch(/^0\.in:/);
    expect(problems([{ path: 'a', equals: { x: 1 } }])?.[0]).toMatch(/^0\.equals:/);
  });

  it('is part of the ERP REST and CSV stream schemas', () => {
    const filter = [{ path: 'Aktif', equals: 'E' }];
    const rest = connectorSchema.parse({ type: 'rest', baseUrl: 'https://erp.example', streams: { products: { path: '/p', filter } } });
    expect(rest.streams.products?.filter).toEqual(filter);
    const csv = connectorSchema.parse({ type: 'csv', streams: { products: { upload: true, filter } } });
    expect(csv.streams.products?.filter).toEqual(filter);
  });
});
