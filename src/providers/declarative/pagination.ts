/**
 * The paginators shared by every declarative reader (CRM `list` and `changes` endpoints, ERP REST
 * streams): one `pagination:` schema and a pure step function that, given where a page was read
 * from and what came back, says where the next page is or that the read is done. The callers own the
 * HTTP; this module only builds URLs and reads answers, so every style is tested the same way.
 */
import { z } from 'zod';
import { parsePath, readPath } from '../../domain/template.js';

const responsePath = z.string().refine(
  (p) => {
    try {
      return parsePath(p).length > 0;
    } catch {
      return false;
    }
  },
  { message: "Not a valid path (use dotted keys and [index], e.g. 'meta.next')" },
);
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'Not a valid header name');
const param = z.string().min(1).max(100).meta({ description: 'Query parameter name.' });
const size = z.number().int().min(1).max(1000).default(100).meta({ description: 'Records asked for per page.' });

const none = z.strictObject({ type: z.literal('none') }).meta({ description: 'One request, one page.' });

const cursor = z
  .strictObject({
    type: z.literal('cursor'),
    cursorPath: responsePath.optional().meta({ description: 'Where the next cursor is in the body; empty or null ends the read.' }),
    cursorHeader: headerName.optional().meta({ description: 'Response header holding the next cursor (instead of cursorPath).' }),
    param: param.meta({ description: 'Query parameter that sends the cursor back.' }),
  })
  .refine((p) => (p.cursorPath === undefined) !== (p.cursorHeader === undefined), {
    message: 'set exactly one of cursorPath and cursorHeader',
    path: ['cursorPath'],
  })
  .meta({ description: 'An opaque next cursor read from the body or a header, sent back as a query parameter.' });

const nextUrl = z
  .strictObject({
    type: z.literal('next_url'),
    urlPath: responsePath.optional().meta({ description: 'Where the next page URL is in the body; empty or null ends the read.' }),
    header: headerName.optional().meta({ description: 'Response header holding the next page URL (instead of urlPath).' }),
  })
  .refine((p) => (p.urlPath === undefined) !== (p.header === undefined), {
    message: 'set exactly one of urlPath and header',
    path: ['urlPath'],
  })
  .meta({
    description: "The next page's URL (absolute, or relative to the page's URL); it must stay on the base URL's origin.",
  });

const link = z
  .strictObject({ type: z.literal('link') })
  .meta({ description: 'RFC 8288 Link header: the target with rel="next" (relative to the page URL, same origin as the base URL).' });

const page = z
  .strictObject({
    type: z.literal('page'),
    param: param.meta({ description: 'Query parameter of the page number.' }),
    startAt: z.number().int().min(0).default(1).meta({ description: 'Number of the first page (default 1).' }),
    size,
    sizeParam: param.optional().meta({ description: 'Query parameter of the page size (size is sent in it).' }),
    totalPagesPath: responsePath.optional().meta({ description: 'Where the number of pages is in the body: the read ends at the last one.' }),
  })
  .meta({ description: 'Page numbers: ends at totalPagesPath when given, else on a short or empty page.' });

const offset = z
  .strictObject({
    type: z.literal('offset'),
    param: param.meta({ description: 'Query parameter of the offset (0 first).' }),
    size,
    sizeParam: param.meta({ description: 'Query parameter of the limit (size is sent in it).' }),
    totalPath: responsePath.optional().meta({ description: 'Where the total number of records is in the body: the read ends there.' }),
  })
  .meta({ description: 'Offset and limit: ends at totalPath when given, else on a short page.' });

/** The `pagination:` block of a CRM list/changes endpoint or an ERP REST stream. */
export const paginationSchema = z
  .discriminatedUnion('type', [none, cursor, nextUrl, link, page, offset])
  .meta({ id: 'Pagination', description: 'How the next page is found. See docs/declarative-providers.md#pagination.' });

export type Pagination = z.output<typeof paginationSchema>;

/** Where a page is read from; `null` is the first page. */
export type PagePosition = { cursor: string } | { url: string } | { page: number } | { offset: number } | null;

/** The pages cannot be read as configured: a hostile next link, a page that does not move on. */
export class PaginationError extends Error {
  override readonly name = 'PaginationError';
}

/**
 * The URL of the page at `position`. `first` is the first page's URL (path, query and filters
 * already set); a next URL replaces it whole and must stay on `baseUrl`'s origin (it came from the
 * remote system, or from a stored checkpoint).
 */
export function pageUrl(spec: Pagination, first: URL, position: PagePosition, baseUrl: string): URL {
  if (position && 'url' in position) return sameOrigin(position.url, first, baseUrl);
  const url = new URL(first);
  switch (spec.type) {
    case 'cursor':
      if (position && 'cursor' in position) url.searchParams.set(spec.param, position.cursor);
      break;
    case 'page':
      url.searchParams.set(spec.param, String(position && 'page' in position ? position.page : spec.startAt));
      if (spec.sizeParam) url.searchParams.set(spec.sizeParam, String(spec.size));
      break;
    case 'offset':
      url.searchParams.set(spec.param, String(position && 'offset' in position ? position.offset : 0));
      url.searchParams.set(spec.sizeParam, String(spec.size));
      break;
    default:
      break;
  }
  return url;
}

/** What one page brought back. */
export interface PageAnswer {
  /** The URL the page was read from (relative next links resolve against it). */
  url: URL;
  headers: Headers;
  body: unknown;
  /** Records on the page. */
  count: number;
}

/**
 * The position of the page after the one read at `position`, or null when that was the last. A
 * next position equal to the current one would read the same page for ever: refused.
 */
export function nextPosition(spec: Pagination, position: PagePosition, answer: PageAnswer, baseUrl: string): PagePosition {
  const next = step(spec, position, answer, baseUrl);
  if (next !== null && position !== null && positionKey(next) === positionKey(position)) {
    throw new PaginationError(`pagination does not move on: the next page is the same as this one (${describe(next)})`);
  }
  return next;
}

function step(spec: Pagination, position: PagePosition, answer: PageAnswer, baseUrl: string): PagePosition {
  switch (spec.type) {
    case 'none':
      return null;
    case 'cursor': {
      const value = spec.cursorHeader ? answer.headers.get(spec.cursorHeader) : readPath(answer.body, spec.cursorPath!);
      const next = textOf(value);
      return next === null ? null : { cursor: next };
    }
    case 'next_url': {
      const next = textOf(spec.header ? answer.headers.get(spec.header) : readPath(answer.body, spec.urlPath!));
      return next === null ? null : { url: sameOrigin(next, answer.url, baseUrl).toString() };
    }
    case 'link': {
      const next = linkTarget(answer.headers.get('link'), 'next');
      return next === null ? null : { url: sameOrigin(next, answer.url, baseUrl).toString() };
    }
    case 'page': {
      const current = position && 'page' in position ? position.page : spec.startAt;
      if (spec.totalPagesPath !== undefined) {
        const total = countAt(answer.body, spec.totalPagesPath, 'totalPagesPath');
        // Pages are numbered from startAt, so the last one is startAt + total - 1.
        return current - spec.startAt + 1 >= total || answer.count === 0 ? null : { page: current + 1 };
      }
      return answer.count < spec.size ? null : { page: current + 1 };
    }
    case 'offset': {
      const current = position && 'offset' in position ? position.offset : 0;
      if (spec.totalPath !== undefined) {
        const total = countAt(answer.body, spec.totalPath, 'totalPath');
        return current + answer.count >= total || answer.count === 0 ? null : { offset: current + answer.count };
      }
      return answer.count < spec.size ? null : { offset: current + answer.count };
    }
  }
}

/** A stable key of a position (for loop detection across pages). */
export function positionKey(position: PagePosition): string {
  return JSON.stringify(position);
}

function describe(position: NonNullable<PagePosition>): string {
  if ('cursor' in position) return `cursor '${position.cursor.slice(0, 80)}'`;
  if ('url' in position) return `URL ${position.url.slice(0, 200)}`;
  if ('page' in position) return `page ${position.page}`;
  return `offset ${position.offset}`;
}

function textOf(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function countAt(body: unknown, path: string, field: string): number {
  const raw = readPath(body, path);
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new PaginationError(`pagination.${field}: no count at '${path}' in the answer`);
  }
  return value;
}

/**
 * Resolves a next URL (RFC 3986, against the page it came from) and refuses one that leaves the
 * base URL's origin: it is remote input, and following it would send our credentials elsewhere.
 */
function sameOrigin(target: string, from: URL, baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(target, from);
  } catch {
    throw new PaginationError(`the next page URL '${target.slice(0, 200)}' is not a URL`);
  }
  const origin = new URL(baseUrl).origin;
  if (url.origin !== origin) {
    throw new PaginationError(`the next page URL points away from the base URL (${url.origin} is not ${origin})`);
  }
  return url;
}

/**
 * The target of the first link with relation `rel` in an RFC 8288 Link header, or null. Written by
 * hand because neither Node nor our dependencies parse Link headers: link-values are separated by
 * commas, which may also occur inside `<URI>` and quoted parameter values, so it scans rather than
 * splits; `rel` holds space-separated relation types compared case-insensitively (section 3.3).
 */
export function linkTarget(header: string | null, rel: string): string | null {
  if (!header) return null;
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    if (header[i] !== '<') return null; // malformed: stop rather than guess
    const end = header.indexOf('>', i + 1);
    if (end < 0) return null;
    const target = header.slice(i + 1, end).trim();
    i = end + 1;
    const params = new Map<string, string>();
    for (;;) {
      skipSpace();
      if (header[i] !== ';') break;
      i++;
      skipSpace();
      const nameStart = i;
      while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
      const name = header.slice(nameStart, i).toLowerCase();
      skipSpace();
      let value = '';
      if (header[i] === '=') {
        i++;
        skipSpace();
        if (header[i] === '"') {
          i++;
          while (i < n && header[i] !== '"') {
            if (header[i] === '\\' && i + 1 < n) i++;
            value += header[i];
            i++;
          }
          i++; // closing quote
        } else {
          const valueStart = i;
          while (i < n && header[i] !== ';' && header[i] !== ',') i++;
          value = header.slice(valueStart, i).trim();
        }
      }
      // The first occurrence of a parameter counts (RFC 8288 section 3).
      if (name && !params.has(name)) params.set(name, value);
    }
    skipSpace();
    if (i < n && header[i] !== ',') return null;
    const rels = (params.get('rel') ?? '').toLowerCase().split(/\s+/);
    if (rels.includes(rel.toLowerCase())) return target;
  }
  return null;
}
