import { currencyExponent } from './currencies.js';
/**
 * A small, pure template engine: `{{path.to.value | filter:arg | filter}}` over a context object.
 *
 * No I/O and no Node built-ins, so workflows may use it as well as providers. A template that is
 * exactly one `{{expr}}` keeps the value's type (a number stays a number in a JSON body); anything
 * else renders to a string.
 */

/** Raised for a malformed template, an unknown filter or a missing variable. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    message: string,
    readonly template: string,
    /** The variable that was missing, when that is the problem. */
    readonly variable?: string,
  ) {
    super(message);
  }
}

/** A filter argument: a quoted literal, a number, or a path into the context. */
export type FilterArg = { kind: 'literal'; value: string | number } | { kind: 'path'; path: string };

export interface FilterCall {
  name: string;
  args: FilterArg[];
}

export interface TemplateExpression {
  path: string;
  filters: FilterCall[];
}

/** A template split into literal text and expressions. */
export type TemplatePart =
  { kind: 'text'; text: string } | { kind: 'expr'; expr: TemplateExpression; source: string };

export interface RenderOptions {
  /** Applied to every interpolated value (not to literal text), e.g. encodeURIComponent for URL paths. */
  escape?: (value: string) => string;
}

/** Context key holding the gateway's decimal places for `currency`, read by `minor_to_decimal`. */
export const GATEWAY_EXPONENT_VARIABLE = 'currencyExponent';

/** Number of decimals of a currency's minor unit, from the one ISO 4217 table (regions.ts); any case. */
function exponentOf(currency: string): number {
  return currencyExponent(currency.toUpperCase());
}

/**
 * 1050 EUR → "10.50", 1050 JPY → "1050", 1050 KWD → "1.050". Exact: integer arithmetic only.
 * `exponent` overrides ISO 4217's for a gateway that counts the currency differently.
 */
export function minorToDecimal(amount: number, currency: string, exponent: number = exponentOf(currency)): string {
  if (!Number.isSafeInteger(amount))
    throw new Error(`Amount in minor units must be an integer, got ${amount}`);
  const digits = String(Math.abs(amount));
  const sign = amount < 0 ? '-' : '';
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, '0');
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** "10.5" EUR → 1050, "1050" JPY → 1050. Refuses more decimals than the currency has. */
export function decimalToMinor(amount: string | number, currency: string): number {
  const exponent = exponentOf(currency);
  const text = typeof amount === 'number' ? String(amount) : amount.trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`Not a decimal amount: '${text}'`);
  const [, sign = '', whole = '0', fraction = ''] = match;
  const trimmed = fraction.replace(/0+$/, '');
  if (trimmed.length > exponent) {
    throw new Error(`Amount '${text}' has more decimals than ${currency.toUpperCase()} allows (${exponent})`);
  }
  const minor = Number(whole + trimmed.padEnd(exponent, '0'));
  return sign === '-' ? -minor : minor;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** UTF-8 then base64, without Buffer or btoa (neither is guaranteed in the workflow sandbox). */
export function base64Encode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const triple = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64_ALPHABET[(triple >> 18) & 63];
    out += BASE64_ALPHABET[(triple >> 12) & 63];
    out += b === undefined ? '=' : BASE64_ALPHABET[(triple >> 6) & 63];
    out += c === undefined ? '=' : BASE64_ALPHABET[triple & 63];
  }
  return out;
}

const PATH_TOKEN = /^(?:\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\.?([A-Za-z_$][\w$-]*))/;

/** Splits `a.b[0].c` / `a['x-y']` / `$.a.b` into keys; throws on anything else. */
export function parsePath(path: string): (string | number)[] {
  let rest = path.trim().replace(/^\$\.?/, '');
  const keys: (string | number)[] = [];
  while (rest.length > 0) {
    const match = PATH_TOKEN.exec(rest);
    if (!match || (keys.length === 0 && match[0].startsWith('.'))) throw new Error(`Invalid path '${path}'`);
    const [token, index, single, double, name] = match;
    if (index !== undefined) keys.push(Number(index));
    else keys.push(single ?? double ?? name ?? '');
    rest = rest.slice(token.length);
  }
  return keys;
}

/** Reads `a.b[0].c` from a value; undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of parsePath(path)) {
    if (current === null || current === undefined) return undefined;
    if (typeof key === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key))
        return undefined;
      current = (current as Record<string, unknown>)[key];
    }
  }
  return current;
}

/** Scans `text` from `start` to the next `}}` outside quotes. */
function findClose(text: string, start: number): number {
  let quote: string | null = null;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '}' && text[i + 1] === '}') return i;
  }
  return -1;
}

/** Splits on `sep` outside quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quote: string | null = null;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === '\\' && i + 1 < text.length) {
        current += ch + text[i + 1];
        i++;
        continue;
      }
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === sep) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

function parseArg(raw: string, template: string): FilterArg {
  const text = raw.trim();
  const quoted = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (quoted) return { kind: 'literal', value: (quoted[1] ?? quoted[2] ?? '').replace(/\\(.)/g, '$1') };
  if (/^-?\d+(\.\d+)?$/.test(text)) return { kind: 'literal', value: Number(text) };
  try {
    parsePath(text);
  } catch {
    throw new TemplateError(`Invalid filter argument '${text}' in template '${template}'`, template);
  }
  return { kind: 'path', path: text };
}

function parseExpression(source: string, template: string): TemplateExpression {
  const [head = '', ...filterSources] = splitOutsideQuotes(source, '|');
  const path = head.trim();
  if (path === '') throw new TemplateError(`Empty expression in template '${template}'`, template);
  try {
    parsePath(path);
  } catch {
    throw new TemplateError(`Invalid variable '${path}' in template '${template}'`, template);
  }
  const filters = filterSources.map((filterSource): FilterCall => {
    const colon = splitOutsideQuotes(filterSource, ':');
    const name = (colon[0] ?? '').trim();
    if (!FILTERS[name]) {
      throw new TemplateError(`Unknown filter '${name}' in template '${template}'`, template);
    }
    // Arguments after the first colon are comma-separated.
    const argText = colon.slice(1).join(':');
    const args =
      argText.trim() === '' ? [] : splitOutsideQuotes(argText, ',').map((a) => parseArg(a, template));
    return { name, args };
  });
  return { path, filters };
}

/** Parses a template into parts; throws TemplateError on malformed syntax or unknown filters. */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let pos = 0;
  while (pos < template.length) {
    const open = template.indexOf('{{', pos);
    if (open === -1) {
      parts.push({ kind: 'text', text: template.slice(pos) });
      break;
    }
    if (open > pos) parts.push({ kind: 'text', text: template.slice(pos, open) });
    const close = findClose(template, open + 2);
    if (close === -1) throw new TemplateError(`Unclosed '{{' in template '${template}'`, template);
    const source = template.slice(open + 2, close);
    parts.push({ kind: 'expr', expr: parseExpression(source, template), source });
    pos = close + 2;
  }
  return parts;
}

/** The variables (paths) a template reads, including paths used as filter arguments. */
export function templateVariables(template: string): string[] {
  const vars: string[] = [];
  for (const part of parseTemplate(template)) {
    if (part.kind !== 'expr') continue;
    vars.push(part.expr.path);
    for (const filter of part.expr.filters) {
      for (const arg of filter.args) if (arg.kind === 'path') vars.push(arg.path);
    }
  }
  return vars;
}

interface FilterContext {
  ctx: unknown;
  template: string;
  args: unknown[];
}

type Filter = (value: unknown, fc: FilterContext) => unknown;

function requireString(value: unknown, filter: string, template: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`Filter '${filter}' needs a string in template '${template}'`, template);
}

/** Filters never see undefined except `default` and `optional`; others pass undefined through. */
const FILTERS: Record<string, Filter> = {
  upper: (v, { template }) => requireString(v, 'upper', template).toUpperCase(),
  lower: (v, { template }) => requireString(v, 'lower', template).toLowerCase(),
  string: (v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)),
  number: (v, { template }) => {
    const n = typeof v === 'number' ? v : Number(typeof v === 'string' && v.trim() !== '' ? v : NaN);
    if (!Number.isFinite(n))
      throw new TemplateError(`Filter 'number' got a non-number in template '${template}'`, template);
    return n;
  },
  base64: (v, { template }) => base64Encode(requireString(v, 'base64', template)),
  default: (v, { args }) => (v === undefined || v === null || v === '' ? args[0] : v),
  optional: (v) => v,
  /** True when the value equals the argument: `{{payment.captureMode | eq:'automatic'}}`. */
  eq: (v, { args }) => v === args[0],
  minor_to_decimal: (v, fc) => {
    const currency = fc.args.length > 0 ? fc.args[0] : readPath(fc.ctx, 'currency');
    if (typeof currency !== 'string') {
      throw new TemplateError(
        `Filter 'minor_to_decimal' needs a currency (argument or 'currency' variable) in template '${fc.template}'`,
        fc.template,
        'currency',
      );
    }
    const amount = typeof v === 'string' ? Number(v) : v;
    if (typeof amount !== 'number') {
      throw new TemplateError(
        `Filter 'minor_to_decimal' needs a number in template '${fc.template}'`,
        fc.template,
      );
    }
    // Request templates carry the gateway's exponent for the payment's currency (its amount is in
    // the gateway's units); an explicit currency argument uses ISO 4217.
    const exponent = fc.args.length === 0 ? readPath(fc.ctx, GATEWAY_EXPONENT_VARIABLE) : undefined;
    try {
      return minorToDecimal(amount, currency, typeof exponent === 'number' ? exponent : undefined);
    } catch (err) {
      throw new TemplateError(`${(err as Error).message} (template '${fc.template}')`, fc.template);
    }
  },
  decimal_to_minor: (v, fc) => {
    const currency = fc.args.length > 0 ? fc.args[0] : readPath(fc.ctx, 'currency');
    if (typeof currency !== 'string' || (typeof v !== 'string' && typeof v !== 'number')) {
      throw new TemplateError(
        `Filter 'decimal_to_minor' needs an amount and a currency in template '${fc.template}'`,
        fc.template,
      );
    }
    try {
      return decimalToMinor(v, currency);
    } catch (err) {
      throw new TemplateError(`${(err as Error).message} (template '${fc.template}')`, fc.template);
    }
  },
};

/** The names of the available filters, for documentation and validation. */
export const TEMPLATE_FILTERS: readonly string[] = Object.keys(FILTERS);

function evaluate(expr: TemplateExpression, ctx: unknown, template: string): unknown {
  let value = readPath(ctx, expr.path);
  const optional = expr.filters.some((f) => f.name === 'optional');
  for (const filter of expr.filters) {
    if (value === undefined && filter.name !== 'default') continue;
    const args = filter.args.map((a) => (a.kind === 'literal' ? a.value : readPath(ctx, a.path)));
    value = (FILTERS[filter.name] as Filter)(value, { ctx, template, args });
  }
  if (value === undefined && !optional) {
    throw new TemplateError(`Missing variable '${expr.path}' in template '${template}'`, template, expr.path);
  }
  return value;
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Renders one template. Exactly one `{{expr}}` returns the value as is (number, boolean, object, or
 * undefined with `| optional`); otherwise returns the interpolated string.
 */
export function renderTemplate(template: string, ctx: unknown, options: RenderOptions = {}): unknown {
  const parts = parseTemplate(template);
  const only = parts[0];
  if (parts.length === 1 && only?.kind === 'expr' && !options.escape)
    return evaluate(only.expr, ctx, template);
  let out = '';
  for (const part of parts) {
    if (part.kind === 'text') out += part.text;
    else {
      const text = stringify(evaluate(part.expr, ctx, template));
      out += options.escape ? options.escape(text) : text;
    }
  }
  return out;
}

/** Renders a template and always returns a string (undefined from `| optional` becomes ''). */
export function renderString(template: string, ctx: unknown, options: RenderOptions = {}): string {
  return stringify(renderTemplate(template, ctx, options));
}

/**
 * Renders every string leaf of a nested object/array. Object keys whose value renders to undefined
 * (`| optional` on a missing variable) are left out.
 */
export function renderDeep(value: unknown, ctx: unknown): unknown {
  if (typeof value === 'string') return renderTemplate(value, ctx);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, ctx)).filter((v) => v !== undefined);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const rendered = renderDeep(child, ctx);
      if (rendered !== undefined) out[key] = rendered;
    }
    return out;
  }
  return value;
}
