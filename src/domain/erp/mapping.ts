/**
 * Declarative field mappings: per entity, a list of entries {sourceField, targetField,
 * transformation, required, defaultValue}. A mapping is validated (zod, with the path of every
 * problem), compiled once per run, then applied to each source row; the result is validated by the
 * entity's record schema. Pure: no I/O.
 */
import { z } from 'zod';
import { readPath } from '../template.js';
import {
  ENTITY_RECORD_SCHEMAS,
  ERP_ENTITIES,
  naturalKeyOfFields,
  requiredTargetFields,
  targetFields,
  type EntityRecords,
  type ErpEntity,
} from './entities.js';
import {
  compileStep,
  TransformError,
  transformationStepSchema,
  type MappedValue,
  type StepContext,
  type TransformationStep,
} from './transformations.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const LINE_FIELDS = ['sku', 'quantity', 'unitPriceMinor'];

/** Entries of one target: the allowed target fields are an enum, so a typo is reported at its path. */
function entriesSchema(fields: string[], needed: string[], lines?: z.ZodType) {
  const entry = z.strictObject({
    sourceField: z
      .string()
      .min(1)
      .max(300)
      .meta({ description: "A column name, or a dot path into a JSON record (e.g. 'Fiyat.Tutar', 'Satirlar[0].Kod')." }),
    targetField: z.enum(fields as [string, ...string[]]),
    // One step is shorthand for a list of one, so errors carry the step's index either way.
    transformation: z
      .preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(transformationStepSchema).optional())
      .meta({ description: 'One step or a list applied left to right.' }),
    required: z.boolean().default(false).meta({ description: 'A missing or empty source value makes the row invalid.' }),
    defaultValue: scalar.optional().meta({ description: 'Used (untransformed) when the source value is missing or empty.' }),
    ...(lines
      ? { lines: lines.optional().meta({ description: "For 'lines': the mapping applied to each element of the source array." }) }
      : {}),
  });
  return z
    .array(entry)
    .min(1)
    .max(200)
    .superRefine((entries, ctx) => {
      const seen = new Set<string>();
      entries.forEach((e, i) => {
        if (seen.has(e.targetField)) ctx.addIssue({ code: 'custom', path: [i, 'targetField'], message: `'${e.targetField}' is mapped twice` });
        seen.add(e.targetField);
        if ('lines' in e && e.lines !== undefined && e.targetField !== 'lines') {
          ctx.addIssue({ code: 'custom', path: [i, 'lines'], message: "'lines' only applies to the target field 'lines'" });
        }
      });
      for (const field of needed) {
        if (!seen.has(field)) ctx.addIssue({ code: 'custom', path: [], message: `target field '${field}' must be mapped` });
      }
    });
}

const lineEntries = entriesSchema(LINE_FIELDS, LINE_FIELDS);

const entitySchemas = Object.fromEntries(
  ERP_ENTITIES.map((entity) => [
    entity,
    entriesSchema(targetFields(entity), requiredTargetFields(entity), entity === 'orders' ? lineEntries : undefined).optional(),
  ]),
) as Record<ErpEntity, z.ZodOptional<ReturnType<typeof entriesSchema>>>;

/** Mappings of an integration, one list of entries per entity it feeds. */
export const mappingsSchema = z
  .strictObject(entitySchemas)
  .meta({ id: 'ErpMappings', description: 'Field mappings per entity (products, prices, inventory, orders).' });
export type MappingsInput = z.input<typeof mappingsSchema>;
export type Mappings = z.output<typeof mappingsSchema>;

/** One mapping entry (as stored after validation). */
export interface MappingEntry {
  sourceField: string;
  targetField: string;
  transformation?: TransformationStep[];
  required: boolean;
  defaultValue?: string | number | boolean | null;
  lines?: MappingEntry[];
}
export type MappingEntryInput = z.input<ReturnType<typeof entriesSchema>>[number];

/** One problem with one row: the target field (or record path) and what was wrong. */
export interface RowError {
  field: string;
  message: string;
}

/**
 * Key under which a source marks a row it refused before mapping (a field over the size cap): such a
 * row is never mapped, its errors stand, also when its dead letter is replayed (the stored row is cut).
 */
export const REFUSED_ROW_KEY = '$refused';

function refusedErrors(row: unknown): RowError[] | undefined {
  if (row === null || typeof row !== 'object') return undefined;
  const errors = (row as Record<string, unknown>)[REFUSED_ROW_KEY];
  return Array.isArray(errors) ? (errors as RowError[]) : undefined;
}

/** A failed row carries its natural key when its key fields mapped and validated (see naturalKeyOfFields). */
export type MapResult<E extends ErpEntity> =
  { ok: true; record: EntityRecords[E] } | { ok: false; errors: RowError[]; key?: string };

/** Reads a source field: an exact column name first (CSV headers may contain dots), then a dot path. */
function readField(row: unknown, field: string): unknown {
  if (row !== null && typeof row === 'object' && Object.prototype.hasOwnProperty.call(row, field)) {
    return (row as Record<string, unknown>)[field];
  }
  try {
    return readPath(row, field);
  } catch {
    return undefined;
  }
}

// `\S` is the complement of what trim() removes: a blank test without a trimmed copy per cell.
const NON_BLANK = /\S/;
const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && !NON_BLANK.test(v));

type CompiledEntry = (row: unknown, out: Record<string, unknown>, errors: RowError[], prefix: string) => void;

function compileEntry(entry: MappingEntry): CompiledEntry {
  const steps = (entry.transformation ?? []).map(compileStep);
  const lines = entry.lines?.map(compileEntry);
  // One context per entry, pointed at the current row: no closure allocated per row and field.
  let current: unknown;
  const ctx: StepContext = { read: (f) => readField(current, f) };
  return (row, out, errors, prefix) => {
    const field = `${prefix}${entry.targetField}`;
    const raw = readField(row, entry.sourceField);
    if (isEmpty(raw)) {
      if (entry.defaultValue !== undefined) out[entry.targetField] = entry.defaultValue;
      else if (entry.required) errors.push({ field, message: `source field '${entry.sourceField}' is missing or empty` });
      return;
    }
    if (lines) {
      if (!Array.isArray(raw)) {
        errors.push({ field, message: `source field '${entry.sourceField}' is not a list` });
        return;
      }
      out[entry.targetField] = raw.map((element, i) => {
        const line: Record<string, unknown> = {};
        for (const apply of lines) apply(element, line, errors, `${field}[${i}].`);
        return line;
      });
      return;
    }
    let value: unknown = raw;
    try {
      current = row;
      for (const step of steps) value = step(value, ctx);
    } catch (err) {
      if (!(err instanceof TransformError)) throw err;
      errors.push({ field, message: err.message });
      return;
    }
    out[entry.targetField] = value as MappedValue;
  };
}

/** Defaults for fields the integration settings provide (warehouse, price list). */
export interface MappingDefaults {
  warehouse?: string;
  priceList?: string;
}

export interface CompiledMapping<E extends ErpEntity> {
  entity: E;
  map(row: unknown): MapResult<E>;
}

/**
 * A stored mapping that does not validate any more, e.g. a pattern saved before tenant patterns ran
 * in RE2. Retrying cannot fix it: the tenant must change the mapping.
 */
export class MappingCompileError extends Error {
  override readonly name = 'MappingCompileError';
  constructor(
    readonly entity: ErpEntity,
    readonly reason: string,
  ) {
    super(`the ${entity} mapping does not compile: ${reason}`);
  }
}

function withKey(entity: ErpEntity, fields: Record<string, unknown>, failed: { ok: false; errors: RowError[] }): { ok: false; errors: RowError[]; key?: string } {
  const key = naturalKeyOfFields(entity, fields);
  return key === undefined ? failed : { ...failed, key };
}

/** Compiles a validated entity mapping once; `map` is then called per row. */
export function compileMapping<E extends ErpEntity>(
  entity: E,
  entries: MappingEntryInput[],
  defaults: MappingDefaults = {},
): CompiledMapping<E> {
  const checked = mappingsSchema.safeParse({ [entity]: entries });
  if (!checked.success) throw new MappingCompileError(entity, z.prettifyError(checked.error).replace(/\n\s*/g, ' '));
  const parsed = checked.data[entity] as MappingEntry[];
  const compiled = parsed.map(compileEntry);
  const schema = ENTITY_RECORD_SCHEMAS[entity] as unknown as z.ZodType<EntityRecords[E]>;
  const fromSettings: Record<string, unknown> = {};
  if (entity === 'inventory' && defaults.warehouse) fromSettings['warehouse'] = defaults.warehouse;
  if (entity === 'prices' && defaults.priceList) fromSettings['priceList'] = defaults.priceList;
  return {
    entity,
    map(row) {
      const out: Record<string, unknown> = { ...fromSettings };
      const errors: RowError[] = [];
      for (const apply of compiled) apply(row, out, errors, '');
      // A refused row keeps its errors whatever the mapping says, but its key (when intact) is still
      // known: the letter resolves once the source is fixed and the record syncs.
      const refused = refusedErrors(row);
      if (refused) return withKey(entity, out, { ok: false, errors: refused });
      if (errors.length > 0) return withKey(entity, out, { ok: false, errors });
      const result = schema.safeParse(out);
      if (!result.success) {
        return withKey(entity, out, {
          ok: false,
          errors: result.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(record)', message: i.message })),
        });
      }
      return { ok: true, record: result.data };
    },
  };
}
