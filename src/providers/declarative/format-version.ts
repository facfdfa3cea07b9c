/**
 * Versions of the definition format. `formatVersion` absent (or 1) is the first format; 2 is the
 * current one, where each part has exactly one spelling. Version 1 texts still parse (their old
 * spellings are read by the schema as before, so a definition nobody upgraded behaves as it did),
 * but what is stored is upgraded: PUT /v1/providers/:name and the ERP integration store write
 * version 2, and the start-up pass (src/stores/definition-format-upgrade.ts) rewrites stored rows.
 * A version 2 text that uses an old spelling is refused with the field and its replacement.
 *
 * This module holds what both families share (the version field, the signature rewrite and the
 * refusal of old fields) and the provider definition's own upgrade; the ERP connector's upgrade is in
 * ../erp/connector-format.ts.
 */
import { z } from 'zod';

export const CURRENT_FORMAT_VERSION = 2;

/** The `formatVersion` field of provider definitions and ERP connectors. */
export const formatVersionSchema = z
  .union([z.literal(1), z.literal(2)])
  .optional()
  .meta({
    description:
      'Version of the definition format: 2 (current) or 1 (the first format, also when absent). Version 2 refuses the old spellings; see docs/declarative-providers.md#format-versions.',
  });

/** An old spelling refused in version 2: where it is (`*` matches any key) and what replaces it. */
export interface LegacyField {
  path: readonly string[];
  replacement: string;
}

type Json = Record<string, unknown>;
/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The concrete paths of `field` present in `value`. */
function findField(value: unknown, path: readonly string[], at: string[] = []): string[][] {
  if (!isObject(value)) return [];
  const [head, ...rest] = path;
  const keys = head === '*' ? Object.keys(value) : [head!];
  return keys.flatMap((key) => {
    if (!(key in value)) return [];
    return rest.length === 0 ? [[...at, key]] : findField(value[key], rest, [...at, key]);
  });
}

/**
 * Wraps a family's schema: a text that says `formatVersion: 2` and still uses an old spelling gets one
 * issue per such field, naming it and its replacement (the schema itself still reads version 1).
 */
export function refusingLegacyFieldsInV2<S extends z.ZodType>(schema: S, legacy: readonly LegacyField[]) {
  return z.preprocess((raw, ctx) => {
    if (!isObject(raw) || raw.formatVersion !== CURRENT_FORMAT_VERSION) return raw;
    for (const field of legacy) {
      for (const path of findField(raw, field.path)) {
        ctx.issues.push({
          code: 'custom',
          path,
          message: `'${path.join('.')}' is a formatVersion 1 field; in formatVersion 2 use ${field.replacement}`,
          input: raw,
        });
      }
    }
    return raw;
  }, schema);
}

/** `signature.scheme` of the first format. */
export const SIGNATURE_SCHEME_REPLACEMENT = "'algorithm: sha256' (the default) instead of 'scheme: hmac_sha256'";

/**
 * A webhook signature rule in version 2: `scheme: hmac_sha256` meant HMAC-SHA256, which is
 * `algorithm: sha256`. A rule whose scheme contradicts its algorithm was invalid and is left as it is
 * (version 2 then names the field).
 */
export function upgradeSignature(signature: unknown): unknown {
  if (!isObject(signature) || !('scheme' in signature)) return signature;
  const { scheme, ...rest } = signature;
  if (scheme !== 'hmac_sha256' || (rest.algorithm !== undefined && rest.algorithm !== 'sha256')) return signature;
  return { ...rest, algorithm: 'sha256' };
}

/** Applies `change` to the object at `path` when it is there; a copy, the input is untouched. */
export function updateAt(value: Json, path: readonly string[], change: (v: unknown) => unknown): Json {
  const [head, ...rest] = path;
  if (!(head! in value)) return value;
  const inner = value[head!];
  if (rest.length === 0) return { ...value, [head!]: change(inner) };
  return isObject(inner) ? { ...value, [head!]: updateAt(inner, rest, change) } : value;
}

/** Old spellings of a provider definition. */
export const PROVIDER_LEGACY_FIELDS: readonly LegacyField[] = [
  { path: ['webhook', 'signature', 'scheme'], replacement: SIGNATURE_SCHEME_REPLACEMENT },
  { path: ['customerSync', 'webhook', 'signature', 'scheme'], replacement: SIGNATURE_SCHEME_REPLACEMENT },
];

/**
 * A provider definition (as written, any version) in version 2. Pure and idempotent; a value that is
 * not an object is returned as is (the schema reports it).
 */
export function upgradeProviderDefinition<T>(definition: T): T {
  if (!isObject(definition) || definition.formatVersion === CURRENT_FORMAT_VERSION) return definition;
  let out: Json = { ...definition, formatVersion: CURRENT_FORMAT_VERSION };
  out = updateAt(out, ['webhook', 'signature'], upgradeSignature);
  out = updateAt(out, ['customerSync', 'webhook', 'signature'], upgradeSignature);
  return out as T;
}
