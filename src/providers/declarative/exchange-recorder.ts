/**
 * Records the HTTP exchanges of a trial call (POST /v1/providers/:name/try, POST
 * /v1/integrations/:id/try) by wrapping the fetch the runtime is given: the request as it left (auth
 * applied) and the answer as it came back, so the runtime itself needs no hook. Shown bodies are cut
 * to {@link SHOWN_BODY_BYTES}, and {@link maskExchanges} replaces every secret with `***`.
 */
import type { FetchLike } from './http.js';

/** Largest part of a body shown (a CSV export or a large page is cut, and says so). */
export const SHOWN_BODY_BYTES = 64 * 1024;
/** Exchanges kept per trial (a token call and a page, or a few pages of a change feed). */
export const MAX_RECORDED_EXCHANGES = 20;
export const MASK = '***';

export interface RecordedExchange {
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
  response?: {
    status: number;
    headers: Record<string, string>;
    /** Parsed JSON when the body is JSON (and whole), else the text. */
    body: unknown;
    /** The body was longer than {@link SHOWN_BODY_BYTES} and is cut. */
    truncated: boolean;
  };
  /** The request did not complete (refused destination, timeout, connection failure). */
  error?: string;
}

export interface ExchangeRecorder {
  fetch: FetchLike;
  exchanges: RecordedExchange[];
}

function requestBodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  return '(binary body)';
}

/** Reads at most SHOWN_BODY_BYTES of a copy of the answer, then lets go of it (the caller reads the original). */
async function shownBody(res: Response): Promise<{ body: unknown; truncated: boolean }> {
  const copy = res.clone();
  if (!copy.body) return { body: '', truncated: false };
  const reader = copy.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > SHOWN_BODY_BYTES) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = Buffer.concat(chunks).subarray(0, SHOWN_BODY_BYTES);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (!truncated && /json/i.test(res.headers.get('content-type') ?? '')) {
    try {
      return { body: JSON.parse(text) as unknown, truncated };
    } catch {
      // shown as the text it is
    }
  }
  return { body: text, truncated };
}

/** A fetch that records what passes through `inner` (the egress guard), up to MAX_RECORDED_EXCHANGES. */
export function recordExchanges(inner: FetchLike): ExchangeRecorder {
  const exchanges: RecordedExchange[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const exchange: RecordedExchange = {
      request: {
        method: (init?.method ?? 'GET').toUpperCase(),
        url,
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        ...(requestBodyText(init?.body) !== undefined ? { body: requestBodyText(init?.body)! } : {}),
      },
    };
    if (exchanges.length < MAX_RECORDED_EXCHANGES) exchanges.push(exchange);
    try {
      const res = await inner(input, init);
      exchange.response = { status: res.status, headers: Object.fromEntries(res.headers.entries()), ...(await shownBody(res)) };
      return res;
    } catch (err) {
      exchange.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  };
  return { fetch, exchanges };
}

/**
 * Names of headers, query parameters and body fields whose values are secrets wherever they appear
 * (a token call's answer, a login body, a session id in the query). Cursors such as `page_token` are
 * not secrets and stay readable.
 */
const SECRET_NAME =
  /^(authorization|proxy-authorization|cookie|set-cookie|token|sid)$|password|passwd|secret|api[-_]?key|(access|refresh|id|auth|session|bearer)[-_]?token|session[-_]?id|signature|credential/i;

const isSecretName = (name: string) => SECRET_NAME.test(name);

/** Values to hide: the given ones, plus those found under secret names (learned into `found`). */
function collectSecrets(exchange: RecordedExchange, found: Set<string>): void {
  const learn = (value: unknown) => {
    if (typeof value !== 'string' || value.length < 4) return;
    found.add(value);
    // "Bearer <token>", "Basic <base64>": the bare token may appear elsewhere too.
    const bare = /^\S+\s+(\S{4,})$/.exec(value)?.[1];
    if (bare) found.add(bare);
  };
  const walk = (value: unknown) => {
    const stack = [value];
    while (stack.length > 0) {
      const node = stack.pop();
      if (!node || typeof node !== 'object') continue;
      for (const [key, child] of Object.entries(node)) {
        if (isSecretName(key)) learn(child);
        else stack.push(child);
      }
    }
  };
  for (const headers of [exchange.request.headers, exchange.response?.headers ?? {}]) {
    for (const [name, value] of Object.entries(headers)) if (isSecretName(name)) learn(value);
  }
  try {
    for (const [name, value] of new URL(exchange.request.url).searchParams) if (isSecretName(name)) learn(value);
  } catch {
    // not a URL: nothing to learn from it
  }
  const body = exchange.request.body;
  if (body !== undefined) {
    const form = /x-www-form-urlencoded/i.test(exchange.request.headers['content-type'] ?? '');
    if (form) {
      for (const [name, value] of new URLSearchParams(body)) if (isSecretName(name)) learn(value);
    } else {
      try {
        walk(JSON.parse(body));
      } catch {
        // not JSON: only the given secrets are cut out of it
      }
    }
  }
  walk(exchange.response?.body);
}

/** Every string inside `value` with each secret replaced by ***; secret-named fields masked whole. */
function maskValue(value: unknown, secrets: string[]): unknown {
  if (typeof value === 'string') return secrets.reduce((text, s) => text.split(s).join(MASK), value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, secrets));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretName(k) && v !== null && typeof v !== 'object' ? MASK : maskValue(v, secrets)]),
    );
  }
  return value;
}

/**
 * The exchanges (and anything else shown with them, e.g. an error message) with secrets replaced by
 * `***`: the `given` values (a connection's credentials), Authorization and cookie headers, and every
 * value found under a secret name in any exchange (an OAuth token from the token call, a session id),
 * wherever it appears again. Values shorter than 4 characters are not searched for (they would mask
 * unrelated text).
 */
export function maskExchanges<T>(shown: T, exchanges: RecordedExchange[], given: readonly (string | undefined)[]): T {
  const found = new Set<string>(given.filter((s): s is string => typeof s === 'string' && s.length >= 4));
  for (const exchange of exchanges) collectSecrets(exchange, found);
  // Longest first, so a secret that contains another is replaced whole.
  const secrets = [...found].sort((a, b) => b.length - a.length);
  return maskValue(shown, secrets) as T;
}
