import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEgressFetch, EgressLimitError, type EgressOptions } from '../../src/providers/egress/egress-fetch.js';
import { blockedAddressReason } from '../../src/providers/egress/ip-ranges.js';
import { OutboundUrlError } from '../../src/providers/url-policy.js';

/**
 * The egress guard with private networks NOT allowed, against real local HTTP servers that stand for
 * what a tenant must never reach (they listen on every loopback address, v4 and v6).
 */

interface Target {
  server: Server;
  port: number;
  hits: string[];
  bytesSent: number;
}

const FIFTY_MB = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes `total` bytes respecting backpressure, counting what actually left. */
function stream(res: ServerResponse, target: Target, total: number): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += CHUNK.length;
      target.bytesSent += CHUNK.length;
      if (!res.write(CHUNK)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

async function startTarget(redirectTo?: () => string): Promise<Target> {
  const target = { hits: [] as string[], bytesSent: 0 } as Target;
  target.server = createServer((req, res) => {
    target.hits.push(req.url ?? '');
    switch (req.url) {
      case '/redirect':
        return void res.writeHead(302, { location: redirectTo!() }).end();
      case '/huge':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return stream(res, target, FIFTY_MB);
      case '/huge-declared':
        res.writeHead(200, { 'content-length': String(FIFTY_MB) });
        return stream(res, target, FIFTY_MB);
      case '/slow-body': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('.'), 100);
        return void res.on('close', () => clearInterval(t));
      }
      case '/no-answer':
        return; // never answers
      default:
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":"inside"}');
    }
  });
  await new Promise<void>((r) => target.server.listen(0, '::', r));
  target.port = (target.server.address() as AddressInfo).port;
  return target;
}

let target: Target;
let other: Target;

beforeAll(async () => {
  other = await startTarget();
  target = await startTarget(() => `http://127.0.0.1:${other.port}/secret`);
});
afterAll(async () => {
  for (const t of [target, other]) {
    t.server.closeAllConnections();
    await new Promise((r) => t.server.close(r));
  }
});
beforeEach(() => {
  target.hits = [];
  other.hits = [];
  target.bytesSent = 0;
});

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Memory still held after a full collection: JS heap plus array buffers (response chunks). */
function memory(): { retained: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { retained: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const strict: EgressOptions = { allowPrivateNetworks: false };

/** Names in this machine's /etc/hosts that point at a loopback address. */
function loopbackNamesFromEtcHosts(): string[] {
  const names = new Set<string>();
  for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && blockedAddressReason(address) === 'loopback') aliases.forEach((n) => names.add(n));
  }
  return [...names];
}

describe('egress guard: destinations', () => {
  it('refuses every /etc/hosts name that points at loopback, before connecting', async () => {
    const names = loopbackNamesFromEtcHosts();
    expect(names).toContain('localhost');
    const guard = createEgressFetch(strict);
    for (const name of names) {
      await expect(guard(`http://${name}:${target.port}/`), name).rejects.toThrow(OutboundUrlError);
      await expect(guard(`http://${name}:${target.port}/`), name).rejects.toThrow(/loopback/);
    }
    expect(target.hits).toEqual([]);
    await guard.close();
  });

  it('refuses a DNS name that resolves to 127.0.0.1, and a name with any blocked address among public ones', async () => {
    const toLoopback = createEgressFetch({ ...strict, resolve: async () => [{ address: '127.0.0.1' }] });
    await expect(toLoopback(`http://gateway.tenant.example:${target.port}/`)).rejects.toThrow(
      "Outbound host 'gateway.tenant.example' resolves to a non-public address (loopback); refused",
    );
    const mixed = createEgressFetch({ ...strict, resolve: async () => [{ address: '93.184.216.34' }, { address: '::1' }] });
    await expect(mixed(`http://mixed.tenant.example:${target.port}/`)).rejects.toThrow(/non-public address \(loopback\); refused/);
    expect(target.hits).toEqual([]);
    await Promise.all([toLoopback.close(), mixed.close()]);
  });

  it('connects to the address it checked: a resolver that answers loopback on the second call is never asked again', async () => {
    let calls = 0;
    // DNS rebinding: public on the check, loopback afterwards. Pinned, the connection goes to the
    // public address (unreachable here) and the loopback server never sees a request.
    const rebinding = createEgressFetch({
      ...strict,
      connectTimeoutMs: 500,
      resolve: async () => [{ address: calls++ === 0 ? '8.8.8.8' : '127.0.0.1' }],
    });
    const err = await rebinding(`http://rebind.tenant.example:${target.port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(OutboundUrlError);
    expect(calls).toBe(1);
    expect(target.hits).toEqual([]);

    // And the other way round (on the allow-list, so loopback may be reached): the first answer is used.
    let pinnedCalls = 0;
    const pinned = createEgressFetch({
      ...strict,
      allowedHosts: ['pinned.example'],
      resolve: async () => [{ address: pinnedCalls++ === 0 ? '127.0.0.1' : '10.255.255.1' }],
    });
    const res = await pinned(`http://pinned.example:${target.port}/first`);
    expect(await res.json()).toEqual({ secret: 'inside' });
    expect(pinnedCalls).toBe(1);
    expect(target.hits).toEqual(['/first']);
    await Promise.all([rebinding.close(), pinned.close()]);
  });

  it.each([
    ['127.0.0.1', /loopback/],
    ['[::1]', /loopback/],
    ['[::ffff:127.0.0.1]', /IPv4-mapped form of loopback/],
    ['[::ffff:7f00:1]', /IPv4-mapped form of loopback/],
    ['[64:ff9b::127.0.0.1]', /NAT64 form of loopback/],
    ['[::127.0.0.1]', /IPv4-compatible form of loopback/],
    ['2130706433', /loopback/],
    ['0x7f.1', /loopback/],
  ])('refuses the literal %s', async (host, reason) => {
    const guard = createEgressFetch(strict);
    await expect(guard(`http://${host}:${target.port}/`)).rejects.toThrow(reason);
    expect(target.hits).toEqual([]);
    await guard.close();
  });

  it('refuses the deployment’s own services by address, even with private networks allowed (then by port)', async () => {
    const internalEndpoints = [{ label: 'Temporal', host: 'temporal', port: target.port, addresses: ['127.0.0.1'] }];
    const dev = createEgressFetch({ allowPrivateNetworks: true, internalEndpoints });
    await expect(dev(`http://127.0.0.1:${target.port}/`)).rejects.toThrow(/this deployment's own services/);
    await expect(dev(`http://temporal:${target.port}/`)).rejects.toThrow(/this deployment's own services/);
    expect(target.hits).toEqual([]);
    expect((await dev(`http://127.0.0.1:${other.port}/`)).status).toBe(200);
    // The allow-list never exempts them.
    const listed = createEgressFetch({ allowPrivateNetworks: false, allowedHosts: ['127.0.0.1'], internalEndpoints });
    await expect(listed(`http://127.0.0.1:${other.port}/`)).rejects.toThrow(/own services/);
    await Promise.all([dev.close(), listed.close()]);
  });
});

describe('egress guard: responses', () => {
  // The local servers are allow-listed here (the only way to reach loopback with private networks off).
  const local: EgressOptions = { ...strict, allowedHosts: ['127.0.0.1'] };

  it('never follows a redirect, so a redirect to loopback reaches nothing', async () => {
    const guard = createEgressFetch(local);
    const res = await guard(`http://127.0.0.1:${target.port}/redirect`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`http://127.0.0.1:${other.port}/secret`);
    expect(other.hits).toEqual([]);
    await guard.close();
  });

  it('aborts a 50 MB response at the 5 MB cap while streaming; memory is not retained', async () => {
    const guard = createEgressFetch(local);
    await (await guard(`http://127.0.0.1:${target.port}/warm-up`)).text();
    const before = memory();
    // Read in a helper so no reference to the response outlives the call.
    const read = async () => (await guard(`http://127.0.0.1:${target.port}/huge`)).text().catch((e: unknown) => e);
    const err = await read();
    expect(err).toBeInstanceOf(EgressLimitError);
    expect(err).toMatchObject({ limit: 'response_size' });
    // The transfer stopped near the cap (socket buffers aside), far from 50 MB.
    await expect.poll(() => target.bytesSent, { timeout: 10_000 }).toBeGreaterThan(5 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 200));
    expect(target.bytesSent).toBeLessThan(20 * 1024 * 1024);
    await new Promise((r) => setTimeout(r, 100));
    const after = memory();
    console.log(
      `egress size cap: server sent ${mb(target.bytesSent)} MB of 50 MB; after GC: heap+buffers ${mb(before.retained)} -> ${mb(after.retained)} MB, RSS ${mb(before.rss)} -> ${mb(after.rss)} MB`,
    );
    // Buffering the body would retain 50 MB; what is left is the allocator's slack, far below the cap.
    expect(after.retained - before.retained).toBeLessThan(10 * 1024 * 1024);

    await expect(guard(`http://127.0.0.1:${target.port}/huge-declared`)).rejects.toThrow(/exceeded the 5242880-byte size cap/);
    await guard.close();
  });

  it('ends a call over the total time cap, whether the headers or the body are slow', async () => {
    const guard = createEgressFetch({ ...local, timeoutMs: 500 });
    const started = Date.now();
    await expect(guard(`http://127.0.0.1:${target.port}/no-answer`)).rejects.toMatchObject({ name: 'EgressLimitError', limit: 'time' });
    const res = await guard(`http://127.0.0.1:${target.port}/slow-body`);
    await expect(res.text()).rejects.toMatchObject({ name: 'EgressLimitError', limit: 'time' });
    expect(Date.now() - started).toBeLessThan(10_000);
    await guard.close();
  });
});

describe('blockedAddressReason', () => {
  it.each([
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['100.64.0.1', 'carrier-grade NAT (100.64.0.0/10)'],
    ['169.254.169.254', 'link-local/metadata'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local/metadata'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'IPv4-mapped form of private (RFC 1918)'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 form of link-local/metadata'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    ['2002:7f00:1::1', '6to4 form of loopback'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo form of loopback'],
    ['2001:db8::1', 'reserved'],
  ])('blocks %s (%s)', (address, reason) => {
    expect(blockedAddressReason(address)).toBe(reason);
  });

  it.each(['8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('allows %s', (address) => {
    expect(blockedAddressReason(address)).toBeNull();
  });
});
