/**
 * Paging of the customer-sync read endpoints (`list`, `changes`): the shared paginators of
 * pagination.ts, the `modifiedAfter` filter of `list`, and the opaque cursor strings the
 * CustomerSyncAdapter contract hands to reconciliation (which stores them and passes them back).
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';
import type { PagePosition } from './pagination.js';

/** `endpoints.list.modifiedAfter`: how to ask for records changed after a time. */
export const modifiedAfterSchema = z
  .strictObject({
    param: z.string().min(1).max(100).meta({ description: 'Query parameter of the time, e.g. modified_after.' }),
    format: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "Luxon format of the time, e.g. 'yyyy-MM-dd HH:mm:ss'; ISO 8601 when absent, 'X' for epoch seconds." }),
    zone: z
      .string()
      .refine((zone) => IANAZone.isValidZone(zone), 'not an IANA time zone (e.g. Europe/Istanbul)')
      .default('UTC')
      .meta({ description: 'Time zone the time is written in (default UTC).' }),
    lookbackSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(60)
      .meta({ description: 'Asks from this long before the last read started, for clock skew and late commits (default 60).' }),
  })
  .meta({
    id: 'CustomerSyncModifiedAfter',
    description:
      'The list endpoint filters by modification time: reconciliation of a system without a change feed reads the records changed since its last read instead of none.',
  });
export type ModifiedAfter = z.output<typeof modifiedAfterSchema>;

/** The filter's value for `atMs` in the declared format and zone. */
export function modifiedAfterValue(spec: ModifiedAfter, atMs: number): string {
  const at = DateTime.fromMillis(atMs, { zone: spec.zone });
  return spec.format ? at.toFormat(spec.format) : at.toISO()!;
}

/** Where a read stands: the page, and for a `modifiedAfter` read the time it filters by and when it started. */
export interface ReadState {
  position: PagePosition;
  /** Epoch ms the filter asks from (before the lookback). */
  since?: number;
  /** Epoch ms the read's first page was asked for: the next read's `since`. */
  started?: number;
}

/** The opaque cursor of a read state (JSON, so reconciliation can resume it after a restart). */
export function encodeReadState(state: ReadState): string {
  return JSON.stringify(state);
}

const positionShape = z.union([
  z.null(),
  z.strictObject({ cursor: z.string() }),
  z.strictObject({ url: z.string() }),
  z.strictObject({ page: z.number().int().min(0) }),
  z.strictObject({ offset: z.number().int().min(0) }),
]);
const readStateShape = z.strictObject({
  position: positionShape,
  since: z.number().finite().optional(),
  started: z.number().finite().optional(),
});

/** The read state of a cursor from encodeReadState; undefined when it is not one (e.g. written before `pagination:`). */
export function decodeReadState(cursor: string): ReadState | undefined {
  try {
    const parsed = readStateShape.safeParse(JSON.parse(cursor));
    return parsed.success ? (parsed.data as ReadState) : undefined;
  } catch {
    return undefined;
  }
}
