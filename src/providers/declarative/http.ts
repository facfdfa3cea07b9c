/** HTTP plumbing of the declarative runtime: building, sending with a timeout, reading answers. */
import { readPath, renderDeep, renderString, renderTemplate } from '../../domain/template.js';
import { EgressLimitError } from '../egress/egress-fetch.js';
import { OutboundUrlError } from '../url-policy.js';
import type { ActionDefinition } from './definition.js';

export type FetchLike = typeof fetch;

export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface IncomingResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the body is JSON, else the raw text ('' when empty). */
  body: unknown;
}

/**
 * The request never completed. `sent: false` means it cannot have reached the provider (DNS failure,
 * connection refused); `sent: 'maybe'` means it may have been processed (timeout, reset).
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly sent: false | 'maybe',
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Socket error codes that prove the request was never sent. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errorCodes(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorCodes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorCodes(e.cause, depth + 1)];
}

/** Turns a fetch rejection into a TransportError that says whether the request may have been sent. */
export function transportErrorFrom(err: unknown, timedOut: boolean): TransportError {
  if (timedOut) return new TransportError('maybe', 'timeout', 'request timed out');
  // Over a cap, the provider may well have processed the request.
  if (err instanceof EgressLimitError) {
    return new TransportError('maybe', err.limit === 'time' ? 'timeout' : 'response_too_large', err.message);
  }
  const codes = errorCodes(err);
  const code = codes[0] ?? 'network_error';
  if (codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c))) {
    return new TransportError(false, code, `connection failed (${code})`);
  }
  return new TransportError('maybe', code, `connection lost (${code})`);
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return '';
  if (contentType?.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * Sends one request; rejects with TransportError on network failure or timeout, and with the egress
 * guard's OutboundUrlError (never sent, not retryable) when the destination is refused.
 */
export async function sendRequest(
  fetchImpl: FetchLike,
  req: OutgoingRequest,
  timeoutMs: number,
): Promise<IncomingResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const res = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
      redirect: 'manual',
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: parseBody(text, res.headers.get('content-type')),
    };
  } catch (err) {
    if (err instanceof OutboundUrlError) throw err;
    throw transportErrorFrom(err, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

/** application/x-www-form-urlencoded with nested keys as `a[b]` and arrays as `a[0]`. */
export function formEncode(value: Record<string, unknown>): string {
  const params = new URLSearchParams();
  const add = (key: string, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) v.forEach((item, i) => add(`${key}[${i}]`, item));
    else if (typeof v === 'object') for (const [k, child] of Object.entries(v)) add(`${key}[${k}]`, child);
    else params.append(key, String(v));
  };
  for (const [k, v] of Object.entries(value)) add(k, v);
  return params.toString();
}

/** Renders an action's templates into a request. Interpolations in the path are URL-encoded. */
export function buildRequest(
  baseUrl: string,
  action: Pick<ActionDefinition, 'method' | 'path' | 'query' | 'headers' | 'body' | 'idempotencyHeader'>,
  vars: Record<string, unknown>,
): OutgoingRequest {
  const path = renderString(action.path, vars, { escape: encodeURIComponent });
  const base = new URL(baseUrl);
  const url = new URL(baseUrl + path);
  if (url.origin !== base.origin)
    throw new Error(`Action path '${action.path}' leaves the provider's base URL`);
  for (const [key, tpl] of Object.entries(action.query ?? {})) {
    const value = renderTemplate(tpl, vars);
    if (value !== undefined && value !== null) url.searchParams.append(key, String(value));
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [name, tpl] of Object.entries(action.headers ?? {})) {
    const value = renderTemplate(tpl, vars);
    if (value !== undefined) headers[name.toLowerCase()] = String(value);
  }
  const idempotencyKey = vars['idempotencyKey'];
  if (action.idempotencyHeader && typeof idempotencyKey === 'string') {
    headers[action.idempotencyHeader.toLowerCase()] = idempotencyKey;
  }
  let body: string | undefined;
  if (action.body) {
    const rendered = renderDeep(action.body.template, vars) as Record<string, unknown>;
    if (action.body.encoding === 'json') {
      body = JSON.stringify(rendered);
      headers['content-type'] = 'application/json';
    } else {
      body = formEncode(rendered);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
  }
  return { method: action.method, url, headers, body };
}

/** Reads a string-ish value at `path`; numbers become strings, anything else undefined. */
export function readString(body: unknown, path: string | undefined): string | undefined {
  if (!path) return undefined;
  const value = readPath(body, path);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
