import type { RequestHandler } from 'express';
import { z } from 'zod';
import { parseStripeForm, stripeParamName, valueAt } from './form-params.js';
import { formParams, requestContext } from './request-context.js';
import type { RequestContext } from './store.js';
import { invalidRequest } from './stripe-errors.js';

/** Form values are strings; these coerce them the way Stripe does. */
export const formInt = z
  .string({ error: (iss) => `Invalid integer: ${String(iss.input)}` })
  .regex(/^-?\d+$/, { error: (iss) => `Invalid integer: ${String(iss.input)}` })
  .transform(Number);
export const formBool = z
  .enum(['true', 'false'], { error: (iss) => `Invalid boolean: ${String(iss.input)}` })
  .transform((v) => v === 'true');
/** `metadata[key]=value`; an empty `metadata=` means "none". */
export const formMetadata = z
  .union([z.record(z.string(), z.string()), z.literal('')])
  .transform((m) => (m === '' ? {} : m))
  .optional()
  .default({});
export const formLimit = formInt.pipe(z.number().int().min(1).max(100)).optional();

/**
 * Reads the request's parameters: the query string and the urlencoded body, in Stripe's bracket
 * notation (the body wins on conflicts). Handlers get them only through {@link stripeRoute}.
 */
export const parseFormParams: RequestHandler = (req, res, next) => {
  const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  const body: unknown = req.body;
  const encodedBody = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  res.locals['params'] = { ...parseStripeForm(query), ...parseStripeForm(encodedBody) };
  next();
};

export interface RouteContext extends RequestContext {
  pathParams: Record<string, string>;
}

function toStripeError(error: z.ZodError, params: ReturnType<typeof formParams>) {
  const issue = error.issues[0];
  const path = issue?.path ?? [];
  const param = stripeParamName(path);
  if (valueAt(params, path) === undefined) {
    return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
  }
  const message = issue?.message ?? `Invalid value for ${param}.`;
  return invalidRequest(message.startsWith('Invalid') ? message : `Invalid ${param}: ${message}`, {
    param,
    ...(message.startsWith('Invalid integer') ? { code: 'parameter_invalid_integer' } : {}),
  });
}

/**
 * A Stripe endpoint: validates the parameters with `schema` (Stripe-shaped 400 on failure) and
 * answers 200 with what the handler returns. Handlers throw StripeApiError for Stripe errors.
 */
export function stripeRoute<S extends z.ZodType>(
  schema: S,
  handler: (params: z.output<S>, ctx: RouteContext) => object,
): RequestHandler<Record<string, string>> {
  return (req, res) => {
    const raw = formParams(res);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw toStripeError(parsed.error, raw);
    const body = handler(parsed.data, { ...requestContext(res), pathParams: req.params });
    res.status(200).json(body);
  };
}

/** Stripe's list envelope, newest first, with `limit` and `starting_after` paging. */
export function listOf<T extends { id: string }>(
  itemsOldestFirst: T[],
  url: string,
  limit = 10,
  startingAfter?: string,
) {
  const newestFirst = [...itemsOldestFirst].reverse();
  const start = startingAfter ? newestFirst.findIndex((i) => i.id === startingAfter) + 1 : 0;
  const data = newestFirst.slice(start, start + limit);
  return { object: 'list' as const, data, has_more: start + limit < newestFirst.length, url };
}

export const listParams = z.object({ limit: formLimit, starting_after: z.string().optional() });

export const searchParams = z.object({ query: z.string(), limit: formLimit, page: z.string().optional() });

/** Stripe's search envelope, newest first; `page` is an opaque token (here: the offset). */
export function searchResultOf<T>(matchesOldestFirst: T[], url: string, limit = 10, page?: string) {
  const found = [...matchesOldestFirst].reverse();
  const offset = page ? Number(Buffer.from(page, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw invalidRequest('Invalid page token.', { param: 'page' });
  const hasMore = offset + limit < found.length;
  return {
    object: 'search_result' as const,
    data: found.slice(offset, offset + limit),
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(String(offset + limit)).toString('base64url') : null,
    url,
  };
}

/** `created=N` or `created[gt]=N` (gte, lt, lte): Stripe's filter on a unix-seconds field. */
export const rangeFilter = z
  .union([formInt, z.object({ gt: formInt.optional(), gte: formInt.optional(), lt: formInt.optional(), lte: formInt.optional() })])
  .optional();

export function inRange(value: number, range: z.output<typeof rangeFilter>): boolean {
  if (range === undefined) return true;
  if (typeof range === 'number') return value === range;
  return (
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

