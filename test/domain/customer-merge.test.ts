import { describe, expect, it } from 'vitest';
import { changedFields, normalizeFields, type CustomerFields } from '../../src/domain/customers/fields.js';
import { mergeCustomer, remoteSnapshotChangedAt, type FieldPolicy } from '../../src/domain/customers/merge.js';
import { isOwnWrite } from '../../src/domain/customers/remote-write-key.js';

const base = normalizeFields({ email: 'a@x.test', name: 'Base', phone: '+1', metadata: { tier: 'gold' } });
const at = (over: Partial<CustomerFields>): CustomerFields => ({ ...base, ...over });

describe('three-way merge of a customer', () => {
  it.each([
    { case: 'nothing changed', local: base, remote: base, merged: base, conflicts: 0, localNeedsUpdate: false, remoteNeedsUpdate: false },
    { case: 'remote only', local: base, remote: at({ name: 'R' }), merged: at({ name: 'R' }), conflicts: 0, localNeedsUpdate: true, remoteNeedsUpdate: false },
    { case: 'local only', local: at({ name: 'L' }), remote: base, merged: at({ name: 'L' }), conflicts: 0, localNeedsUpdate: false, remoteNeedsUpdate: true },
    { case: 'different fields on each side', local: at({ phone: '+2' }), remote: at({ name: 'R' }), merged: at({ phone: '+2', name: 'R' }), conflicts: 0, localNeedsUpdate: true, remoteNeedsUpdate: true },
    { case: 'same change on both sides', local: at({ name: 'S' }), remote: at({ name: 'S' }), merged: at({ name: 'S' }), conflicts: 0, localNeedsUpdate: false, remoteNeedsUpdate: false },
    { case: 'metadata compared as a whole, key order ignored', local: at({ metadata: { b: '2', a: '1' } }), remote: at({ metadata: { a: '1', b: '2' } }), merged: at({ metadata: { b: '2', a: '1' } }), conflicts: 0, localNeedsUpdate: false, remoteNeedsUpdate: false },
  ])('$case', ({ local, remote, merged, conflicts, localNeedsUpdate, remoteNeedsUpdate }) => {
    const result = mergeCustomer({ base, local, remote, localChangedAt: 1, remoteChangedAt: 2, policies: {} });
    expect(result.merged).toEqual(merged);
    expect(result.conflicts).toHaveLength(conflicts);
    expect({ localNeedsUpdate: result.localNeedsUpdate, remoteNeedsUpdate: result.remoteNeedsUpdate }).toEqual({ localNeedsUpdate, remoteNeedsUpdate });
  });

  it.each<{ policy: FieldPolicy | undefined; localAt: number; remoteAt: number; winner: 'local' | 'remote' }>([
    { policy: undefined, localAt: 1, remoteAt: 2, winner: 'remote' },
    { policy: undefined, localAt: 2, remoteAt: 1, winner: 'local' },
    { policy: undefined, localAt: 2, remoteAt: 2, winner: 'local' },
    { policy: 'local_wins', localAt: 1, remoteAt: 2, winner: 'local' },
    { policy: 'remote_wins', localAt: 2, remoteAt: 1, winner: 'remote' },
  ])('a field changed on both sides: policy $policy, local at $localAt, remote at $remoteAt → $winner', ({ policy, localAt, remoteAt, winner }) => {
    const result = mergeCustomer({
      base,
      local: at({ name: 'L', phone: '+2' }),
      remote: at({ name: 'R' }),
      localChangedAt: localAt,
      remoteChangedAt: remoteAt,
      policies: policy ? { name: policy } : {},
    });
    expect(result.merged.name).toBe(winner === 'local' ? 'L' : 'R');
    expect(result.merged.phone).toBe('+2');
    expect(result.conflicts).toEqual([{ field: 'name', base: 'Base', local: 'L', remote: 'R', policy: policy ?? 'most_recent', decision: winner }]);
  });

  it('without a base (a first match) every difference is a conflict', () => {
    const result = mergeCustomer({ base: null, local: at({ name: 'L' }), remote: at({ name: 'R' }), localChangedAt: 1, remoteChangedAt: 2, policies: {} });
    expect(result.conflicts.map((c) => c.field)).toEqual(['name']);
  });
});

describe('dating a re-read remote record', () => {
  const read = { fields: at({ name: 'Remote edit' }), readAt: 5_000 };
  it.each([
    { notice: { occurredAt: 1_000, fields: at({ name: 'Remote edit' }) }, at: 1_000, why: 'the record is the one the event saw: its time' },
    { notice: { occurredAt: 1_000, fields: base }, at: 5_000, why: 'the record moved on since the event (a stale echo): the read' },
    { notice: { occurredAt: 1_000 }, at: 1_000, why: 'the event carries no record: its time' },
  ])('$why', ({ notice, at: want }) => {
    expect(remoteSnapshotChangedAt(read, notice)).toBe(want);
  });
});

describe('our own writes', () => {
  it.each([
    { key: 'cust_1-v3-con_a', own: true },
    { key: 'cust_1-v3-con_b', own: false }, // another connection's write: news for this one
    { key: 'cust_1-con_a', own: false },
    { key: '5f1c9a2e-8e1b-4c1e-9d0a-1b2c3d4e5f6a', own: false }, // a key the Stripe SDK or a person chose
    { key: null, own: false },
  ])('$key is ours at con_a: $own', ({ key, own }) => {
    expect(isOwnWrite(key, 'con_a')).toBe(own);
  });
});

describe('customer fields', () => {
  it('treat empty strings and empty addresses as unset', () => {
    expect(normalizeFields({ email: '', address: { city: '' } })).toEqual(normalizeFields({}));
    expect(changedFields(base, at({ address: { line1: 'x', line2: null, city: null, postalCode: null, state: null, country: null } }))).toEqual(['address']);
  });
});
