/** What a run (a sync, a webhook apply, a replay) did with the records it read. */
export interface RecordCounts {
  read: number;
  valid: number;
  /** Dead-lettered: did not map or validate. */
  invalid: number;
  upserted: number;
  /** Valid but identical to what the catalog holds: not written. */
  unchanged: number;
  /** Skipped by the stream's `filter` before mapping (not in `read`); present when the stream has a filter. */
  filtered?: number;
}

export const ZERO_COUNTS: RecordCounts = { read: 0, valid: 0, invalid: 0, upserted: 0, unchanged: 0 };

export function addCounts(a: RecordCounts, b: RecordCounts): RecordCounts {
  const filtered = a.filtered === undefined && b.filtered === undefined ? {} : { filtered: (a.filtered ?? 0) + (b.filtered ?? 0) };
  return {
    read: a.read + b.read,
    valid: a.valid + b.valid,
    invalid: a.invalid + b.invalid,
    upserted: a.upserted + b.upserted,
    unchanged: a.unchanged + b.unchanged,
    ...filtered,
  };
}
