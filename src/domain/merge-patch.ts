/**
 * JSON Merge Patch (RFC 7396), as every PATCH of the API applies it to a resource's nested objects
 * (`settings`, `metadata`, a connector, mappings): a member set to `null` is removed, an absent member
 * is kept, an object is merged member by member, anything else (a string, a number, an array)
 * replaces the target's value whole.
 *
 * Written here rather than taken from a package: the RFC's algorithm is the ten lines below, and no
 * merge-patch package is a dependency. Objects are rebuilt with Object.fromEntries, which defines
 * own properties, so a patch member named `__proto__` stays a plain key and never reaches a prototype.
 */

/** A JSON object (what JSON.parse gives for `{...}`): not an array, not null. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The target with the patch applied (RFC 7396 section 2); neither argument is modified. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const base = isJsonObject(target) ? target : {};
  const merged = new Map<string, unknown>(Object.entries(base));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, applyMergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}

/** {@link applyMergePatch} for an object member that must stay an object (`settings`, `metadata`). */
export function mergeObject(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  return applyMergePatch(target, patch) as Record<string, unknown>;
}
