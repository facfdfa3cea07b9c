/**
 * Record filters, shared by ERP streams (REST and CSV) and CRM `list`/`changes` endpoints: a list
 * of conditions on paths of the source record, all of which must hold for the record to be kept.
 * Applied to the raw record before any mapping; a record filtered out is skipped, never dead-lettered.
 *
 * Values are compared as text: a string as it is, a number or boolean by its JSON spelling
 * (1 equals '1', true equals 'true'), surrounding whitespace ignored on both sides (CSV exports pad
 * cells). A missing or null value has no text: `equals` and `in` fail on it, `notEquals` holds.
 * Objects and arrays have no text either. No patterns: equality only, so nothing here can be slow.
 */
import { z } from 'zod';
import { parsePath, readPath } from '../../domain/template.js';

const scalar = z.union([z.string().max(500), z.number(), z.boolean()]);

const filterPath = z
  .string()
  .max(500)
  .refine(
    (p) => {
      try {
        return parsePath(p).length > 0;
      } catch {
        return false;
      }
    },
    { message: "not a valid path (dotted keys and [index], e.g. 'status' or 'tags[0]'; ['Stok Kodu'] for a name with spaces)" },
  );

export const recordConditionSchema = z
  .strictObject({
    path: filterPath.meta({ description: 'Where the value is in the source record.' }),
    equals: scalar.optional().meta({ description: 'Keep the record when the value equals this (as text, trimmed).' }),
    notEquals: scalar.optional().meta({ description: 'Keep the record unless the value equals this; a missing value is kept.' }),
    in: z.array(scalar).min(1).max(200).optional().meta({ description: 'Keep the record when the value equals one of these.' }),
    exists: z.boolean().optional().meta({ description: 'true: the value is present and not null; false: it is missing or null.' }),
  })
  .refine((c) => c.equals !== undefined || c.notEquals !== undefined || c.in !== undefined || c.exists !== undefined, {
    message: 'a condition needs equals, notEquals, in or exists',
  })
  .meta({ id: 'RecordCondition' });

export const recordFilterSchema = z
  .array(recordConditionSchema)
  .min(1)
  .max(50)
  .meta({
    id: 'RecordFilter',
    description: 'Conditions on the source record, all of which must hold; records that fail are skipped (counted, not dead-lettered).',
  });

export type RecordCondition = z.output<typeof recordConditionSchema>;
export type RecordFilter = z.output<typeof recordFilterSchema>;

/** The comparable text of a value: undefined for missing, null, objects and arrays. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function holds(condition: RecordCondition, record: unknown): boolean {
  const value = readPath(record, condition.path);
  const text = textOf(value);
  if (condition.exists !== undefined && (value !== undefined && value !== null) !== condition.exists) return false;
  if (condition.equals !== undefined && text !== textOf(condition.equals)) return false;
  if (condition.notEquals !== undefined && text === textOf(condition.notEquals)) return false;
  if (condition.in !== undefined && (text === undefined || !condition.in.some((v) => textOf(v) === text))) return false;
  return true;
}

/** Whether a record passes the filter (no filter: every record does). */
export function keepsRecord(filter: RecordFilter | undefined, record: unknown): boolean {
  return filter === undefined || filter.every((condition) => holds(condition, record));
}
