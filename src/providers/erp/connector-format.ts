/**
 * The ERP connector's format versions (see ../declarative/format-version.ts for what a version is).
 * Version 2 writes the "changed since" parameter only as `incremental.request` (the first format's
 * `incremental.param` wrote it in the records' format and zone: `request` says so explicitly) and a
 * webhook signature without `scheme`. Paginators kept their shape when they moved to the shared
 * module, so they need no rewrite.
 */
import {
  CURRENT_FORMAT_VERSION,
  isObject,
  SIGNATURE_SCHEME_REPLACEMENT,
  updateAt,
  upgradeSignature,
  type LegacyField,
} from '../declarative/format-version.js';

/** Old spellings of an ERP connector. */
export const CONNECTOR_LEGACY_FIELDS: readonly LegacyField[] = [
  {
    path: ['streams', '*', 'incremental', 'param'],
    replacement: "'incremental.request: {param, format, zone}' (param alone wrote the value in the records' format and zone)",
  },
  { path: ['webhook', 'signature', 'scheme'], replacement: SIGNATURE_SCHEME_REPLACEMENT },
];

/**
 * `incremental.param` as `request`: the value written the way records write their change time (their
 * format, or ISO 8601, in their zone, UTC by default), exactly what the first format sent. A stream
 * with both (invalid in either version) is left for the schema to report.
 */
function upgradeIncremental(incremental: unknown): unknown {
  if (!isObject(incremental) || incremental.param === undefined || incremental.request !== undefined) return incremental;
  const { param, ...rest } = incremental;
  const request = { param, ...(rest.format !== undefined ? { format: rest.format } : {}), zone: rest.zone ?? 'UTC' };
  return { ...rest, request };
}

/** An ERP connector (any version, as written or as stored) in version 2. Pure and idempotent. */
export function upgradeErpConnector<T>(connector: T): T {
  if (!isObject(connector) || connector.formatVersion === CURRENT_FORMAT_VERSION) return connector;
  let out: Record<string, unknown> = { ...connector, formatVersion: CURRENT_FORMAT_VERSION };
  if (connector.type === 'rest' && isObject(connector.streams)) {
    out.streams = Object.fromEntries(
      Object.entries(connector.streams).map(([entity, stream]) => [entity, isObject(stream) ? updateAt(stream, ['incremental'], upgradeIncremental) : stream]),
    );
  }
  out = updateAt(out, ['webhook', 'signature'], upgradeSignature);
  return out as T;
}
