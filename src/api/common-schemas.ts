import { z } from 'zod';
import { ApiError } from './errors.js';
import { COUNTRY_CODES } from '../domain/payments/regions.js';
import { CURRENCY_CODES } from '../domain/currencies.js';
import { PageCursorError, type Page } from '../stores/keyset-page.js';

// Enums rather than a refine: the OpenAPI document then lists exactly the codes the API accepts.
type Codes = [string, ...string[]];

export const currencyCode = z
  .enum(CURRENCY_CODES as Codes, { error: 'must be an ISO 4217 code in upper case, e.g. EUR' })
  .meta({ description: 'ISO 4217, upper case', examples: ['EUR'] });

export const countryCode = z
  .enum(COUNTRY_CODES as Codes, { error: 'must be an ISO 3166-1 alpha-2 code in upper case, e.g. DE' })
  .meta({ description: 'ISO 3166-1 alpha-2, upper case', examples: ['DE'] });

/** Largest amount a payment, refund or capture may carry, in minor units (999,999,999.99 EUR). */
export const MAX_AMOUNT = 99_999_999_999;

/** An amount in minor units, as every payment, refund and capture takes it. */
export const amountInMinorUnits = z
  .number()
  .int()
  .positive()
  .max(MAX_AMOUNT)
  .meta({ description: 'Minor units (cents): 1050 = 10.50 EUR', examples: [1050] });

/**
 * A page cursor as the list endpoints hand it out (base64url). The pattern keeps a hostile cursor
 * from ever reaching a decoder, and its length bound keeps URLs well under Node's header limit.
 */
export const pageCursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,2048}$/, 'use nextCursor from a previous page')
  .meta({ description: 'nextCursor of the previous page' });

/** A keyset cursor over (time, id), as the payment and customer lists page. */
export function encodeTimeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

export function decodeTimeCursor(cursor: string): { at: Date; id: string } {
  const [raw, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = new Date(raw ?? '');
  if (!id || Number.isNaN(at.getTime())) {
    throw new ApiError(400, 'validation_failed', 'cursor is not valid', [{ path: 'query.cursor', message: 'use nextCursor from a previous page' }]);
  }
  return { at, id };
}

/** `limit` and `cursor` of a list route: `limit` from 1 to `max`, `def` when absent. */
export function pageQuery(def: number, max: number) {
  return {
    limit: z.coerce.number().int().min(1).max(max).default(def).meta({ description: `Items per page, 1 to ${max} (default ${def})` }),
    cursor: pageCursor.optional(),
  };
}

/** The answer of a list route: one page, whether another follows, and the cursor to fetch it with. */
export function pageOut<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    hasMore: z.boolean().meta({ description: 'Whether another page follows: fetch it with nextCursor' }),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  });
}

/** A page from the store as the list route answers it; a cursor that names no row of the list is a 400. */
export async function answerPage<R, T>(page: Promise<Page<R>>, view: (row: R) => T): Promise<{ data: T[]; hasMore: boolean; nextCursor: string | null }> {
  try {
    const { rows, hasMore, nextCursor } = await page;
    return { data: rows.map(view), hasMore, nextCursor };
  } catch (err) {
    if (!(err instanceof PageCursorError)) throw err;
    throw new ApiError(400, 'validation_failed', 'cursor is not valid for this list', [{ path: 'query.cursor', message: 'use nextCursor from a previous page of the same list' }]);
  }
}
