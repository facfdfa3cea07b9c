/**
 * The one egress path for requests to tenant-supplied URLs: a `fetch` over an undici Agent whose
 * connector resolves the name itself, refuses the connection when ANY resolved address is blocked,
 * and connects to the checked address (no second lookup, so a DNS answer that changes between check
 * and connect cannot redirect it). Redirects are never followed; the response body is capped while
 * it streams, and every call has a total time cap. Everything is injected as a FetchLike, so
 * declarative gateways, OAuth token fetches, connection tests, health checks and later ERP/CRM
 * connectors all go through it.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import {
  checkOutboundUrl,
  isAllowListed,
  normaliseHost,
  OutboundUrlError,
  type OutboundUrlPolicy,
} from '../url-policy.js';
import { blockedAddressReason } from './ip-ranges.js';

/** All addresses of a name (the default reads /etc/hosts and DNS, like the OS would). */
export type Resolver = (hostname: string) => Promise<{ address: string }[]>;

export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true });

/** A service of the deployment itself (Temporal, Postgres); `address` absent when it did not resolve. */
export interface InternalEndpoint {
  label: string;
  host: string;
  port: number;
  addresses: string[];
}

export interface EgressOptions extends OutboundUrlPolicy {
  /** Refused even when private networks are allowed (then only their exact ports). */
  internalEndpoints?: InternalEndpoint[];
  /** Response body cap in bytes, enforced while streaming. Default 5 MB. */
  maxResponseBytes?: number;
  /** Total time cap per call, headers and body together. Default 30 s. */
  timeoutMs?: number;
  /** Per-address connect timeout. Default 10 s. */
  connectTimeoutMs?: number;
  resolve?: Resolver;
}

/** A call went over the response size or time cap; the request may have been processed. */
export class EgressLimitError extends Error {
  override readonly name = 'EgressLimitError';
  constructor(
    readonly limit: 'response_size' | 'time',
    message: string,
  ) {
    super(message);
  }
}

/** A guarded `fetch`; `close()` ends its pooled connections. */
export type EgressFetch = typeof fetch & { close(): Promise<void> };

export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
export const DEFAULT_EGRESS_TIMEOUT_MS = 30_000;

const OWN_SERVICES = "an address of this deployment's own services";

function canonical(address: string): string {
  return ipaddr.process(address.replace(/%.*$/, '')).toString();
}

/** Resolves the deployment's own services once at start, so the guard can refuse their addresses. */
export async function resolveInternalEndpoints(
  targets: { label: string; host: string; port: number }[],
  resolve: Resolver = systemResolver,
): Promise<InternalEndpoint[]> {
  return Promise.all(
    targets.map(async (t) => {
      const host = normaliseHost(t.host);
      if (isIP(host)) return { ...t, host, addresses: [canonical(host)] };
      // Unresolvable now: still refused by name (and by range once it resolves to a private address).
      const found = await resolve(host).catch(() => []);
      return { ...t, host, addresses: found.map((a) => canonical(a.address)) };
    }),
  );
}

/** `host:port` from an address setting such as TEMPORAL_ADDRESS or a database URL. */
export function hostAndPort(address: string, defaultPort: number): { host: string; port: number } {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `tcp://${address}`);
  return { host: normaliseHost(url.hostname), port: url.port ? Number(url.port) : defaultPort };
}

/** Typed errors travel as the `cause` of undici's generic "fetch failed". */
function unwrap(err: unknown): unknown {
  if (err instanceof OutboundUrlError || err instanceof EgressLimitError) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof OutboundUrlError || cause instanceof EgressLimitError) return cause;
  return err;
}

/**
 * A CLIENT span for an outbound call (until its headers arrive), only inside a recording span: with
 * tracing off there is no active span and this costs one lookup. No trace headers are sent: the
 * destinations are third parties.
 */
function clientSpan(method: string, url: URL, host: string): Span | undefined {
  if (!trace.getActiveSpan()?.isRecording()) return undefined;
  return trace.getTracer('switchyard-egress').startSpan(`${method.toUpperCase()} ${host}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'http.request.method': method.toUpperCase(), 'server.address': host, 'url.path': url.pathname },
  });
}

export function createEgressFetch(options: EgressOptions): EgressFetch {
  const resolve = options.resolve ?? systemResolver;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_EGRESS_TIMEOUT_MS;
  const internal = options.internalEndpoints ?? [];

  /** One of the deployment's own services, matched by name or address (any port unless private networks are allowed). */
  function isInternal(host: string, address: string | null, port: number): boolean {
    const a = address === null ? null : canonical(address);
    return internal.some(
      (e) => (e.host === host || (a !== null && e.addresses.includes(a))) && (e.port === port || !options.allowPrivateNetworks),
    );
  }

  /** Why this address may not be reached from `host:port`, or null. */
  function refusal(host: string, address: string, port: number): string | null {
    if (!options.allowPrivateNetworks && !isAllowListed(options, host, port)) {
      const reason = blockedAddressReason(address);
      if (reason) return `a non-public address (${reason})`;
    }
    return isInternal(host, address, port) ? OWN_SERVICES : null;
  }

  async function checkedAddresses(host: string, port: number): Promise<string[]> {
    if (isInternal(host, null, port)) throw new OutboundUrlError(`Outbound host '${host}' is ${OWN_SERVICES}; refused`);
    const addresses = isIP(host) ? [host] : (await resolve(host)).map((a) => a.address);
    if (addresses.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' });
    for (const address of addresses) {
      const reason = refusal(host, address, port);
      // The address itself is not echoed: a tenant must not map the internal network through errors.
      if (reason) {
        const what = isIP(host) ? 'is' : 'resolves to';
        throw new OutboundUrlError(`Outbound host '${host}' ${what} ${reason}; refused`);
      }
    }
    return addresses;
  }

  const base = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
  const connect: buildConnector.connector = (opts, callback) => {
    const host = normaliseHost(opts.hostname);
    const port = opts.port ? Number(opts.port) : opts.protocol === 'https:' ? 443 : 80;
    checkedAddresses(host, port).then(
      (addresses) => {
        // Connect to the checked address literally; TLS still verifies the certificate against the
        // name (undici derives the servername from `host`, which keeps the original name).
        const attempt = (i: number, lastError: Error | null): void => {
          const address = addresses[i];
          if (address === undefined) return callback(lastError ?? new Error('no address'), null);
          base({ ...opts, hostname: address }, (err, socket) => {
            if (err) attempt(i + 1, err);
            else callback(null, socket!);
          });
        };
        attempt(0, null);
      },
      (err: Error) => callback(err, null),
    );
  };
  const agent = new Agent({ connect });

  const egressFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) throw new TypeError('egress fetch takes a URL; pass method, headers and body in init');
    const url = checkOutboundUrl(input, options);
    const host = normaliseHost(url.hostname);
    const cap = new AbortController();
    const timer = setTimeout(
      () => cap.abort(new EgressLimitError('time', `Outbound call to '${host}' exceeded the ${timeoutMs} ms time cap`)),
      timeoutMs,
    );
    const tooLarge = () =>
      new EgressLimitError('response_size', `Response from '${host}' exceeded the ${maxBytes}-byte size cap`);
    const signal = init.signal ? AbortSignal.any([init.signal, cap.signal]) : cap.signal;
    const span = clientSpan(init.method ?? 'GET', url, host);
    let res;
    try {
      res = await undiciFetch(url, { ...(init as UndiciRequestInit), signal, redirect: 'manual', dispatcher: agent });
    } catch (err) {
      clearTimeout(timer);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message }).end();
      throw unwrap(err);
    }
    span?.setAttribute('http.response.status_code', res.status).setStatus({ code: res.status >= 500 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET }).end();
    const meta = { status: res.status, statusText: res.statusText, headers: res.headers as unknown as Headers };
    if (Number(res.headers.get('content-length')) > maxBytes) {
      const err = tooLarge();
      cap.abort(err);
      clearTimeout(timer);
      throw err;
    }
    if (!res.body) {
      clearTimeout(timer);
      return new Response(null, meta);
    }
    // Count while streaming and abort the transfer at the cap, so a huge body is never buffered.
    // (undici's own maxResponseSize would surface as an untyped "terminated" error through fetch.)
    const reader = res.body.getReader();
    let seen = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            clearTimeout(timer);
            return controller.close();
          }
          seen += value.byteLength;
          if (seen > maxBytes) {
            const err = tooLarge();
            cap.abort(err);
            clearTimeout(timer);
            return controller.error(err);
          }
          controller.enqueue(value);
        } catch (err) {
          clearTimeout(timer);
          controller.error(unwrap(err));
        }
      },
      cancel(reason) {
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    });
    return new Response(body, meta);
  };
  return Object.assign(egressFetch as typeof fetch, { close: () => agent.close() });
}
