/**
 * Incremental reads of an ERP stream: how a record's change time is READ (cursorField in `format` and
 * `zone`) and, separately, how the "changed since" request parameter is WRITTEN (`request`: its own
 * format and zone, ISO 8601 in UTC by default), with a lookback window. An ERP often stores local
 * time in its own notation while its filter wants ISO 8601 in UTC (Airbyte's DatetimeBasedCursor
 * keeps the same split: `datetime_format` for records, `start_time_option` + a format for requests).
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

const zone = z.string().refine((z) => IANAZone.isValidZone(z), 'not an IANA time zone (e.g. Europe/Istanbul)');

/** Longest lookback: a week of re-read changes is already a large overlap for a poll. */
export const MAX_LOOKBACK_SECONDS = 7 * 24 * 3600;

const request = z
  .strictObject({
    param: z.string().min(1).max(200).meta({ description: 'Query parameter that carries "changed since".' }),
    format: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "How the value is written: 'unix' (seconds), 'unix_ms' (milliseconds) or Luxon format tokens; ISO 8601 when absent." }),
    zone: zone.default('UTC').meta({ description: 'Zone the value is written in (UTC by default; ignored by unix and unix_ms).' }),
  })
  .meta({ description: 'How the "changed since" request parameter is written; independent of how records write their change time.' });

/** How changes are recognised: the change time and key of each record (the watermark and its tie-break). */
const incrementalObject = z.strictObject({
  cursorField: z.string().min(1).meta({ description: "Source field with the record's change time." }),
  format: z.string().min(1).max(100).optional().meta({ description: 'Luxon format of cursorField; ISO 8601 when absent.' }),
  zone: zone.default('UTC').meta({ description: 'Zone of change times written without an offset.' }),
  keyField: z.string().min(1).meta({ description: 'Source field that identifies a record (tie-break key).' }),
  param: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'REST, older form of request.param: the value is written in the format and zone of the records.' }),
  request: request.optional(),
  lookbackSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_LOOKBACK_SECONDS)
    .optional()
    .meta({ description: 'REST: ask for changes since the watermark minus this many seconds (0 when absent); rows at or before the watermark (time, then key) are still skipped.' }),
});

/** REST: reading and request parts. */
export const incrementalSchema = incrementalObject.refine((s) => s.param === undefined || s.request === undefined, {
  message: 'set request.param or param, not both (param is the older form)',
  path: ['param'],
});

/** CSV exports are read whole: only the reading part. */
export const csvIncrementalSchema = incrementalObject.omit({ param: true, request: true, lookbackSeconds: true });

/** The reading part (what CSV and REST streams share) and, for REST, the request part. */
export type IncrementalSpec = z.output<typeof csvIncrementalSchema> & Partial<Pick<z.output<typeof incrementalObject>, 'param' | 'request' | 'lookbackSeconds'>>;
/** The request parameter's spelling, old and new forms alike. */
export type IncrementalRequest = z.output<typeof request>;

/**
 * The request part in its one form: `request` as given, or the older `param` written the way records
 * are (their format, or ISO 8601, in their zone), so an old definition sends exactly what it sent before.
 */
export function incrementalRequest(spec: IncrementalSpec): IncrementalRequest | undefined {
  if (spec.request) return spec.request;
  if (spec.param === undefined) return undefined;
  return { param: spec.param, zone: spec.zone, ...(spec.format ? { format: spec.format } : {}) };
}

/** The "changed since" value for a watermark (UTC ISO), moved back by the lookback. */
export function sinceParamValue(req: IncrementalRequest, watermark: string, lookbackSeconds = 0): string {
  const at = DateTime.fromISO(watermark, { zone: 'utc' }).minus({ seconds: lookbackSeconds });
  if (req.format === 'unix') return String(Math.floor(at.toMillis() / 1000));
  if (req.format === 'unix_ms') return String(at.toMillis());
  const local = at.setZone(req.zone);
  return req.format ? local.toFormat(req.format) : local.toISO()!;
}
