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

/**
 * A merge patch (RFC 7396) of a stored connector, written in version 1 (it does not say
 * `formatVersion: 2`), in version 2 spellings: the stored connector is version 2, and a client that
 * sends back the version 1 connector it once posted must get what it meant. `incremental.param`
 * becomes `request` written in the records' format and zone (the patch's, else the stored stream's);
 * a `format` absent from both is removed from the stored request.
 */
export function upgradeConnectorPatch(patch: unknown, stored: Record<string, unknown>): unknown {
  if (!isObject(patch) || patch.formatVersion === CURRENT_FORMAT_VERSION) return patch;
  const { formatVersion: _written, ...rest } = patch;
  let out: Record<string, unknown> = rest;
  if (isObject(rest.streams)) {
    const storedStreams = isObject(stored.streams) ? stored.streams : {};
    out.streams = Object.fromEntries(
      Object.entries(rest.streams).map(([entity, stream]) => {
        if (!isObject(stream) || !isObject(stream.incremental) || stream.incremental.param === undefined || stream.incremental.request !== undefined) return [entity, stream];
        const before = isObject(storedStreams[entity]) && isObject((storedStreams[entity] as Record<string, unknown>).incremental)
          ? ((storedStreams[entity] as Record<string, unknown>).incremental as Record<string, unknown>)
          : {};
        const { param, ...incremental } = stream.incremental;
        const format = 'format' in incremental ? incremental.format : before.format;
        const zone = 'zone' in incremental ? incremental.zone : before.zone;
        return [entity, { ...stream, incremental: { ...incremental, request: { param, format: format ?? null, zone: zone ?? 'UTC' } } }];
      }),
    );
  }
  out = updateAt(out, ['webhook', 'signature'], upgradeSignature);
  return out;
}
