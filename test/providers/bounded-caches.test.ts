import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionActivities } from '../../src/activities/connection-activities.js';
import { connections } from '../../src/db/schema.js';
import { tenantProviderLoader } from '../../src/providers/build-registry.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import type { ConnectionClient, ProviderFactory } from '../../src/providers/types.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/** Issue 6 item 9: the worker's caches are bounded and let go of what was deleted or replaced. */

function countingFactory(): ProviderFactory & { created: number } {
  const factory = {
    type: 'counting',
    created: 0,
    validateCredentials: (c: unknown) => c as Record<string, string>,
    create: () => {
      factory.created++;
      return { verifyCredentials: async () => ({ account: 'acct' }) } as unknown as ConnectionClient;
    },
  };
  return factory;
}

const conn = (id: string) => ({ id, tenantId: 't1', provider: 'counting', credentialsVersion: 1, settings: {} });

describe('the per-connection client cache', () => {
  it('keeps at most maxClients clients, dropping the least recently used', async () => {
    const factory = countingFactory();
    const registry = new ProviderRegistry([factory], { maxClients: 2 });
    for (const id of ['c1', 'c2', 'c1', 'c3']) await registry.client(conn(id), () => ({}));
    expect(registry.cachedClients).toBe(2);
    expect(factory.created).toBe(3); // c1 was reused, c2 was the least recently used and went
    await registry.client(conn('c1'), () => ({}));
    expect(factory.created).toBe(3);
    await registry.client(conn('c2'), () => ({}));
    expect(factory.created).toBe(4);
  });

  describe('in a worker that did not see the delete', () => {
    let stack: TestStack;
    const factory = countingFactory();
    beforeAll(async () => {
      stack = await startTestStack({ providers: [factory], startWorker: false });
    });
    afterAll(async () => stack?.close());

    it('forgets the client (and its credentials) of a connection found deleted', async () => {
      const t = await stack.createTenant();
      const created = await request(stack.app)
        .post('/v1/connections')
        .set(t.auth)
        .send({ provider: 'counting', code: 'c', name: 'c', credentials: { key: 'secret' } })
        .expect(201);
      const ref = { tenantId: t.id, connectionId: created.body.id as string };
      const activities = createConnectionActivities({ db: stack.database.db, cipher: stack.cipher, providers: stack.providers });
      await activities.verifyConnectionCredentials(ref);
      expect(stack.providers.cachedClients).toBe(1);
      // Deleted by another process (the API), so this registry was never told.
      await stack.database.db.delete(connections).where(eq(connections.id, ref.connectionId));
      await expect(activities.verifyConnectionCredentials(ref)).rejects.toMatchObject({ type: 'ConnectionUnavailable' });
      expect(stack.providers.cachedClients).toBe(0);
    });
  });
});

describe('the tenant provider-definition cache', () => {
  const definition = parseYaml(readFileSync('providers/acmepay.yaml', 'utf8')) as Record<string, unknown>;

  it('is bounded and drops a definition found deleted', async () => {
    const stored = new Map<string, { definition: Record<string, unknown>; updatedAt: Date }>();
    for (const name of ['pa', 'pb', 'pc']) stored.set(`t1/${name}`, { definition: { ...definition, name }, updatedAt: new Date() });
    const egress = createEgressFetch({ allowPrivateNetworks: false });
    const load = tenantProviderLoader(async (t, n) => stored.get(`${t}/${n}`) ?? null, egress, { maxEntries: 2 });
    for (const name of ['pa', 'pb', 'pc']) expect(await load('t1', name)).not.toBeNull();
    expect(load.cached()).toBe(2);
    stored.delete('t1/pc');
    expect(await load('t1', 'pc')).toBeNull();
    expect(load.cached()).toBe(1);
    await egress.close();
  });
});

describe('the OAuth token cache', () => {
  const token = (t: string) => async () => ({ token: t, refreshAt: Number.POSITIVE_INFINITY });

  it('keeps one token per connection: rotated credentials replace it', async () => {
    const cache = new TokenCache(10);
    expect(await cache.get('t1/c1', 'fp-old', 0, false, token('old'))).toBe('old');
    expect(await cache.get('t1/c1', 'fp-new', 0, false, token('new'))).toBe('new');
    expect(cache.size).toBe(1);
    expect(cache.peek('t1/c1', 'fp-old')).toBeUndefined();
    expect(await cache.get('t1/c1', 'fp-new', 0, false, token('unused'))).toBe('new');
  });

  it('keeps at most maxEntries connections', async () => {
    const cache = new TokenCache(2);
    for (const c of ['c1', 'c2', 'c3']) await cache.get(`t1/${c}`, 'fp', 0, false, token(c));
    expect(cache.size).toBe(2);
    expect(cache.peek('t1/c1', 'fp')).toBeUndefined();
    expect(cache.peek('t1/c3', 'fp')).toBe('c3');
  });
});
