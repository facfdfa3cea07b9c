import express, { type Request } from 'express';
import { ApiError, type ErrorDetail } from './errors.js';

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

/** The JSON body parser of the API: size cap, and nesting checked before the body is parsed. */
export const jsonBody = express.json({
  limit: '256kb',
  verify: (_req, _res, raw) => {
    if (jsonNestsDeeperThan(raw, MAX_JSON_DEPTH)) {
      throw new ApiError(400, 'validation_failed', `invalid request: body nested deeper than ${MAX_JSON_DEPTH} levels`, [
        { path: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
      ]);
    }
  },
});

function hasContent(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Checks every request of an endpoint before its zod schemas see it: a body that is not JSON where
 * JSON is expected is a 415 (not a list of "received undefined"), and unsafe values in the path,
 * query or body are a 400 naming the field.
 */
export function guardRequest(req: Request, expectsJsonBody: boolean): void {
  if (expectsJsonBody && hasContent(req) && !req.is('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', `send the body as JSON with "Content-Type: application/json" (got "${req.get('content-type') ?? 'none'}")`);
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
