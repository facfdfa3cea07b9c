/**
 * Stripe's v1 wire format: `application/x-www-form-urlencoded` bodies (and query strings) with
 * bracket notation for nesting: `metadata[order]=1`, `expand[]=latest_charge`, `items[0][price]=x`.
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** Splits `a[b][]` into `['a', 'b', '']`; null when the key is malformed. */
function splitKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^[\]]*)\]/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(rest)) !== null) {
    parts.push(match[1] ?? '');
    consumed = re.lastIndex;
  }
  return consumed === rest.length && parts[0] !== '' ? parts : null;
}

function isIndex(token: string): boolean {
  return token === '' || /^\d+$/.test(token);
}

function assign(target: FormObject | FormValue[], path: string[], value: string): void {
  const [head, ...rest] = path;
  if (head === undefined || FORBIDDEN_KEYS.has(head)) return;
  if (Array.isArray(target)) {
    const index = head === '' ? target.length : Number(head);
    if (rest.length === 0) {
      target[index] = value;
      return;
    }
    const existing = target[index];
    const child = typeof existing === 'object' ? existing : isIndex(rest[0] ?? '') ? [] : {};
    target[index] = child;
    assign(child, rest, value);
    return;
  }
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const existing = target[head];
  const child = typeof existing === 'object' ? existing : isIndex(rest[0] ?? '') ? [] : {};
  target[head] = child;
  assign(child, rest, value);
}

/** Drops holes left by sparse indices (`expand[3]=x` alone becomes `['x']`). */
function compact(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(compact);
  const out: FormObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = compact(v);
  return out;
}

/** Parses a urlencoded string with Stripe's bracket notation into nested objects and arrays of strings. */
export function parseStripeForm(encoded: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(encoded)) {
    const path = splitKey(key);
    if (path) assign(root, path, value);
  }
  return compact(root) as FormObject;
}

/** Reads a nested value by a zod-style path, to tell a missing parameter from an invalid one. */
export function valueAt(params: FormObject, path: readonly PropertyKey[]): FormValue | undefined {
  let current: FormValue | undefined = params;
  for (const key of path) {
    if (current === undefined || typeof current === 'string') return undefined;
    current = Array.isArray(current) ? current[Number(key)] : current[String(key)];
  }
  return current;
}

/** Renders a path the way Stripe names parameters in errors: `metadata[order_id]`. */
export function stripeParamName(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  return `${head ?? ''}${rest.map((p) => `[${p}]`).join('')}`;
}
