/**
 * The built-in transformations of ERP field mappings. Each step is pure: it takes the value read from
 * the source row (plus the whole row, for concat) and returns the next value or throws a
 * TransformError that says what was wrong. Steps compose left to right.
 */
import { DateTime, IANAZone } from 'luxon';
import { RE2JSException } from 're2js';
import { z } from 'zod';
import { isCurrencyCode } from '../currencies.js';
import { decimalToMinor } from '../template.js';
import { compileTenantPattern, tenantPatternProblem } from './regex-safety.js';

/** A value flowing through a mapping: what JSON and CSV cells can hold. */
export type MappedValue = string | number | boolean | null | MappedValue[] | { [key: string]: MappedValue };

/** A step refused its input; the mapping engine adds the field path. */
export class TransformError extends Error {
  override readonly name = 'TransformError';
}

const separator = z.enum([',', '.', ' ', "'", '']);

const numberStep = z
  .strictObject({
    type: z.literal('number'),
    decimalSeparator: z.enum([',', '.']).default('.'),
    thousandsSeparator: separator.default('').meta({
      description: "Grouping separator, e.g. '.' for '1.234,56' (decimal comma) or ',' for '1,234.56'.",
    }),
  })
  .meta({ description: 'A locale-formatted decimal number, e.g. "1.234,56" with decimalSeparator ",".' });
const integerStep = numberStep
  .extend({ type: z.literal('integer') })
  .meta({ description: 'Like number, but refuses a fractional part.' });
const minorUnitsStep = z
  .strictObject({
    type: z.literal('minorUnits'),
    currency: z.string().refine(isCurrencyCode, 'not an ISO 4217 currency code').optional(),
    currencyField: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Source field holding the currency code of this row.' }),
  })
  .refine((s) => (s.currency === undefined) !== (s.currencyField === undefined), {
    message: 'give exactly one of currency or currencyField',
  })
  .meta({ description: 'A decimal amount (number, or "12.50") to integer minor units of the currency (ISO 4217 exponent).' });
const dateStep = z
  .strictObject({
    type: z.literal('date'),
    format: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "Luxon format tokens, e.g. 'dd.MM.yyyy HH:mm'; ISO 8601 when absent." }),
    zone: z
      .string()
      .default('UTC')
      .refine((zone) => IANAZone.isValidZone(zone), 'not an IANA time zone (e.g. Europe/Istanbul)')
      .meta({ description: 'Zone of values written without an offset (local time); the output is UTC.' }),
    output: z.enum(['datetime', 'date']).default('datetime'),
  })
  .meta({ description: 'A date or timestamp to ISO 8601 in UTC (or a calendar date).' });
const booleanStep = z
  .strictObject({
    type: z.literal('boolean'),
    truthy: z.array(z.string()).min(1).default(['E', 'Y', '1', 'true', 'evet', 'yes']),
    falsy: z.array(z.string()).min(1).default(['H', 'N', '0', 'false', 'hayır', 'no']),
  })
  .meta({ description: 'A flag to true/false; values compared case-insensitively, anything else is an error.' });
const lookupStep = z
  .strictObject({
    type: z.literal('lookup'),
    table: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  })
  .meta({ description: 'Replaces the value by its entry in the table; a missing entry is an error unless default is set.' });
const concatStep = z
  .strictObject({
    type: z.literal('concat'),
    fields: z.array(z.string().min(1)).min(1).meta({ description: 'Further source fields appended after the value.' }),
    separator: z.string().max(20).default(' '),
  })
  .meta({ description: 'The value followed by other source fields (empty ones skipped), joined by separator.' });
const regexStep = z
  .strictObject({
    type: z.literal('regex'),
    // Tenant patterns run on shared workers: RE2 syntax (linear-time matching), checked on save and
    // again when a stored mapping is compiled.
    pattern: z
      .string()
      .min(1)
      .max(200)
      .superRefine((p, ctx) => {
        const problem = tenantPatternProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({ description: 'An RE2 pattern (no backreferences or lookarounds; named groups as (?<name>…)).' }),
    group: z.union([z.number().int().min(0), z.string().min(1)]).default(1),
  })
  .meta({ description: 'Extracts a capture group (by number or name); no match is an error.' });

const namedStep = z.enum(['trim', 'upper', 'lower']).meta({ description: 'trim, upper or lower (text).' });

const objectStep = z.discriminatedUnion('type', [
  z.strictObject({ type: namedStep }),
  numberStep,
  integerStep,
  minorUnitsStep,
  dateStep,
  booleanStep,
  lookupStep,
  concatStep,
  regexStep,
]);

/**
 * One transformation step: a bare name ('trim') or an object with a `type`. The bare name is turned
 * into `{type}` first, so a wrong step is reported by the one discriminated union at its own path
 * (an unknown type, or the field of a known type that is wrong) rather than as "no union member".
 */
export const transformationStepSchema = z.preprocess((v) => (typeof v === 'string' ? { type: v } : v), objectStep);

/** The same vocabulary as written in files, for the published JSON Schema. */
export const transformationStepInputSchema = z.union([namedStep, objectStep]).meta({ id: 'ErpTransformation' });
export type TransformationStep = z.output<typeof transformationStepSchema>;

/** The row being mapped, for steps that read other fields (concat, minorUnits' currencyField). */
export interface StepContext {
  read(field: string): unknown;
}

function asText(value: unknown, step: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TransformError(`${step} needs text, got ${value === null ? 'null' : typeof value}`);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The pattern of a locale number, built once per step. */
function localeNumberPattern(decimal: string, thousands: string): RegExp {
  const d = escapeRegex(decimal);
  const whole = thousands === '' ? '\\d+' : `(?:\\d{1,3}(?:${escapeRegex(thousands)}\\d{3})+|\\d+)`;
  return new RegExp(`^([-+]?)(${whole})(?:${d}(\\d+))?$`);
}

/** Parses "1.234,56" style numbers strictly: groups of three digits only, so "1.5" is not read as 15. */
function parseLocaleNumber(value: unknown, decimal: string, thousands: string, pattern: RegExp): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TransformError(`not a finite number: ${value}`);
    return value;
  }
  const text = asText(value, 'number').trim();
  const match = pattern.exec(text);
  if (!match) throw new TransformError(`'${text}' is not a number with decimal '${decimal}'${thousands ? ` and thousands '${thousands}'` : ''}`);
  const [, sign = '', digits = '', fraction] = match;
  const normalized = `${sign === '-' ? '-' : ''}${thousands ? digits.split(thousands).join('') : digits}${fraction ? `.${fraction}` : ''}`;
  return Number(normalized);
}

/** A step turned into a function once (patterns built, lists lowered), then called per row. */
export type CompiledStep = (value: unknown, ctx: StepContext) => MappedValue;

/** Distinct cell values a boolean step remembers; flags repeat ('E'/'H'), so a few suffice. */
const BOOLEAN_MEMO_SIZE = 64;

/** Compiles one step: what does not depend on the row is done here, once per mapping. */
export function compileStep(step: TransformationStep): CompiledStep {
  switch (step.type) {
    case 'trim':
      return (value) => asText(value, step.type).trim();
    case 'upper':
      return (value) => asText(value, step.type).toLocaleUpperCase('en-US');
    case 'lower':
      return (value) => asText(value, step.type).toLocaleLowerCase('en-US');
    case 'number': {
      const pattern = localeNumberPattern(step.decimalSeparator, step.thousandsSeparator);
      return (value) => parseLocaleNumber(value, step.decimalSeparator, step.thousandsSeparator, pattern);
    }
    case 'integer': {
      const pattern = localeNumberPattern(step.decimalSeparator, step.thousandsSeparator);
      return (value) => {
        const n = parseLocaleNumber(value, step.decimalSeparator, step.thousandsSeparator, pattern);
        if (!Number.isSafeInteger(n)) throw new TransformError(`'${String(value)}' is not a whole number`);
        return n;
      };
    }
    case 'minorUnits':
      return (value, ctx) => {
        const currency = step.currency ?? asText(ctx.read(step.currencyField!), 'currencyField').trim().toUpperCase();
        if (!isCurrencyCode(currency)) throw new TransformError(`'${currency}' is not an ISO 4217 currency code`);
        const amount = typeof value === 'number' ? value : asText(value, 'minorUnits').trim();
        try {
          return decimalToMinor(amount, currency);
        } catch (err) {
          throw new TransformError((err as Error).message);
        }
      };
    case 'date':
      return (value) => {
        const text = asText(value, 'date').trim();
        const parsed = step.format
          ? DateTime.fromFormat(text, step.format, { zone: step.zone })
          : DateTime.fromISO(text, { zone: step.zone });
        if (!parsed.isValid) {
          throw new TransformError(`'${text}' is not a date${step.format ? ` in format '${step.format}'` : ' (ISO 8601)'}`);
        }
        return step.output === 'date' ? parsed.toISODate()! : parsed.toUTC().toISO({ suppressMilliseconds: true })!;
      };
    case 'boolean': {
      // Turkish-aware lowering (ICU) is the costly part; lists are lowered once, cell values memoized.
      const lower = (v: string) => v.toLocaleLowerCase('tr-TR');
      const truthy = new Set(step.truthy.map(lower));
      const falsy = new Set(step.falsy.map(lower));
      const memo = new Map<string, boolean | undefined>();
      return (value) => {
        if (typeof value === 'boolean') return value;
        const cell = asText(value, 'boolean');
        let result = memo.get(cell);
        if (result === undefined && !memo.has(cell)) {
          const text = lower(cell.trim());
          result = truthy.has(text) ? true : falsy.has(text) ? false : undefined;
          if (memo.size < BOOLEAN_MEMO_SIZE) memo.set(cell, result);
        }
        if (result === undefined) {
          throw new TransformError(`'${lower(cell.trim())}' is neither true (${step.truthy.join('/')}) nor false (${step.falsy.join('/')})`);
        }
        return result;
      };
    }
    case 'lookup':
      return (value) => {
        const key = asText(value, 'lookup');
        if (Object.prototype.hasOwnProperty.call(step.table, key)) return step.table[key]!;
        if (step.default !== undefined) return step.default;
        throw new TransformError(`no lookup entry for '${key}'`);
      };
    case 'concat':
      return (value, ctx) => {
        const parts = [value, ...step.fields.map((f) => ctx.read(f))]
          .filter((v) => v !== undefined && v !== null && v !== '')
          .map((v) => asText(v, 'concat'));
        return parts.join(step.separator);
      };
    case 'regex': {
      // exec keeps no state between rows, so one compiled pattern serves the whole run.
      const { regex, maxInput } = compileTenantPattern(step.pattern);
      return (value) => {
        const text = asText(value, 'regex');
        if (text.length > maxInput) throw new TransformError(`value of ${text.length} characters is longer than the ${maxInput} /${step.pattern}/ may run over`);
        let match: string[] | null;
        try {
          match = regex.exec(text) as string[] | null;
        } catch (err) {
          if (!(err instanceof RE2JSException)) throw err;
          throw new TransformError(`/${step.pattern}/ failed on this value: ${err.message}`);
        }
        if (!match) throw new TransformError(`'${text}' does not match /${step.pattern}/`);
        const groups = (match as { groups?: Record<string, string | undefined> }).groups;
        const group = typeof step.group === 'number' ? match[step.group] : groups?.[step.group];
        if (group === undefined || group === null) throw new TransformError(`/${step.pattern}/ has no group ${step.group}`);
        return group;
      };
    }
  }
}

/** Applies one step; `ctx` reads other fields of the same row. Per-row callers compile once instead. */
export function applyStep(step: TransformationStep, value: unknown, ctx: StepContext): MappedValue {
  return compileStep(step)(value, ctx);
}
