import { isUtf8 } from 'node:buffer';
import express, { type Request, type RequestHandler } from 'express';
import { ApiError, type ErrorCode, type ErrorDetail } from './errors.js';

/**
 * Deepest nesting accepted in a JSON body. Generous for every documented shape (a provider definition
 * nests about ten levels); a body nested thousands of levels deep would overflow the stack of the
 * recursive code behind the parser (zod, the template engine, JSON.stringify in the driver).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Finds the first value Postgres cannot store or recursive code cannot walk: a string or key with a
 * NUL character (text and jsonb refuse \u0000), or nesting past {@link MAX_JSON_DEPTH}. Iterative, so
 * the check itself cannot overflow on the input it guards against.
 */
export function findUnsafeValue(value: unknown, root: string): ErrorDetail | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (node.value.includes('\u0000')) return { path: node.path, message: 'contains a NUL character (\\u0000), which is not accepted' };
      continue;
    }
    if (!node.value || typeof node.value !== 'object') continue;
    if (node.depth >= MAX_JSON_DEPTH) return { path: node.path, message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
    for (const [key, child] of Object.entries(node.value)) {
      const path = `${node.path}.${key}`;
      if (key.includes('\u0000')) return { path, message: 'a key contains a NUL character (\\u0000), which is not accepted' };
      stack.push({ value: child, path, depth: node.depth + 1 });
    }
  }
  return undefined;
}

const OPEN = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether raw JSON text nests deeper than `max`, decided before parsing: JSON.parse itself overflows
 * the stack a few thousand levels down, and the parser exposes no depth limit, so this scans the bytes
 * once (brackets outside strings).
 */
export function jsonNestsDeeperThan(text: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

const NOT_UTF8: ErrorDetail = { path: 'body', message: 'is not valid UTF-8 (JSON must be UTF-8 encoded)' };
const TOO_DEEP: ErrorDetail = { path: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels` };

/** Largest body the API parses (JSON, and text bodies such as YAML definitions). */
export const BODY_LIMIT = '256kb';

/** The bytes of each parsed JSON body, for routes that point validation errors at lines ({@link jsonTextOf}). */
const jsonBytes = new WeakMap<object, Buffer>();

/** The JSON text of a request's body as it was sent (undefined when the body was not JSON). */
export function jsonTextOf(req: Request): string | undefined {
  return jsonBytes.get(req)?.toString('utf8');
}

/**
 * The JSON body parser of the API: size cap; encoding and nesting checked before the body is parsed.
 * Invalid UTF-8 is refused rather than decoded leniently, which would store U+FFFD in place of the bad
 * bytes (a body declared as another UTF charset, e.g. UTF-16, is decoded by the parser as declared).
 */
/** The media type of a JSON Merge Patch (RFC 7396), which every PATCH also accepts. */
export const MERGE_PATCH_TYPE = 'application/merge-patch+json';

export const jsonBody = express.json({
  limit: BODY_LIMIT,
  type: ['application/json', MERGE_PATCH_TYPE],
  verify: (req, _res, raw, encoding) => {
    if (encoding === 'utf-8' && !isUtf8(raw)) throw new ApiError(400, 'invalid_json', `request body ${NOT_UTF8.message}`, [NOT_UTF8]);
    if (jsonNestsDeeperThan(raw, MAX_JSON_DEPTH)) throw new ApiError(400, 'validation_failed', `invalid request: body ${TOO_DEEP.message}`, [TOO_DEEP]);
    // Kept with the request only (a weak key): the bytes the parser holds anyway.
    if (encoding === 'utf-8') jsonBytes.set(req, raw);
  },
});

/**
 * Reads bodies of `types` (e.g. application/yaml) as UTF-8 text, with the JSON body's size cap;
 * invalid UTF-8 is refused as for JSON.
 */
export function textBody(types: string[]): RequestHandler {
  return express.text({
    type: types,
    limit: BODY_LIMIT,
    verify: (_req, _res, raw) => {
      if (!isUtf8(raw)) throw new ApiError(400, 'validation_failed', 'request body is not valid UTF-8', [{ path: 'body', message: 'is not valid UTF-8' }]);
    },
  });
}

/**
 * Parses a body the route read raw (webhooks: their signature is computed over the bytes), with the
 * checks every other JSON body gets from {@link jsonBody} and {@link guardRequest}: UTF-8, nesting
 * (before parsing), NUL characters. `notJson` is the error code for bytes that are not JSON, `invalid`
 * for the rest.
 */
export function parseJsonBytes(raw: Buffer, codes: { notJson: ErrorCode; invalid: ErrorCode }): unknown {
  const refuse = (detail: ErrorDetail, code = codes.invalid) => new ApiError(400, code, `invalid request: ${detail.path} ${detail.message}`, [detail]);
  if (!isUtf8(raw)) throw refuse(NOT_UTF8, codes.notJson);
  if (jsonNestsDeeperThan(raw, MAX_JSON_DEPTH)) throw refuse(TOO_DEEP);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw refuse({ path: 'body', message: 'is not valid JSON' }, codes.notJson);
  }
  const unsafe = findUnsafeValue(value, 'body');
  if (unsafe) throw refuse(unsafe);
  return value;
}

/** Longest piece of a refused path echoed in the error (the URL itself may be 16 KB). */
const SHOWN_PATH_CHARS = 100;

/**
 * Refuses a path whose %-escapes do not decode (`/v1/webhooks/%FF`, a cut-off `%A`, bytes that are not
 * UTF-8) before any router matches it: the router decodes path parameters while matching and would
 * throw a URIError, which surfaced as a 500 with a stack trace per request.
 */
export const pathEncoding: RequestHandler = (req, _res, next) => {
  try {
    decodeURIComponent(req.path);
    return next();
  } catch {
    const bad = req.path.split('/').find((segment) => {
      try {
        decodeURIComponent(segment);
        return false;
      } catch {
        return true;
      }
    });
    const shown = (bad ?? req.path).slice(0, SHOWN_PATH_CHARS);
    const detail = { path: 'path', message: `"${shown}" is not valid percent-encoding of UTF-8` };
    next(new ApiError(400, 'invalid_request', `the request path has broken percent-encoding: ${detail.message}`, [detail]));
  }
};

function hasContent(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Checks every request of an endpoint before its zod schemas see it: a body that is not JSON where
 * JSON is expected is a 415 (not a list of "received undefined"), and unsafe values in the path,
 * query or body are a 400 naming the field.
 */
export function guardRequest(req: Request, expectsJsonBody: boolean, textTypes: readonly string[] = []): void {
  const accepted = [...(req.method === 'PATCH' ? ['application/json', MERGE_PATCH_TYPE] : ['application/json']), ...textTypes];
  if (expectsJsonBody && hasContent(req) && !req.is(accepted)) {
    throw new ApiError(415, 'unsupported_media_type', `send the body with "Content-Type: ${accepted.join('" or "')}" (got "${req.get('content-type') ?? 'none'}")`);
  }
  const parts: [unknown, string][] = [
    [req.params, 'params'],
    [req.query, 'query'],
  ];
  if (expectsJsonBody) parts.push([req.body, 'body']);
  for (const [value, root] of parts) {
    const unsafe = findUnsafeValue(value, root);
    if (unsafe) throw new ApiError(400, 'validation_failed', `invalid request: ${unsafe.path} ${unsafe.message}`, [unsafe]);
  }
}
