/**
 * PATCH bodies are JSON Merge Patches (RFC 7396) of a resource's nested objects: the patch of a
 * member is merged into the stored value, and the result is parsed with the member's full schema (the
 * one a create validates with), so a merge that leaves the resource invalid is refused with a 400
 * naming each field, and nothing is stored.
 */
import { z } from 'zod';
import { applyMergePatch } from '../domain/merge-patch.js';
import { issuesToDetails } from './endpoint.js';
import { ApiError } from './errors.js';

/** The patch of an object member: `null` removes a key, an absent key stays, objects merge, arrays replace. */
export function mergePatchOf<V extends z.ZodType>(values: V, what: string) {
  return z.record(z.string(), z.union([values, z.null()])).meta({
    description: `JSON Merge Patch (RFC 7396) of ${what}: a key set to null is removed, a key not sent is kept, objects merge key by key, arrays and other values replace.`,
  });
}

/** `patch` merged into `current`, parsed with `schema`; a 400 naming `body.<member>.<field>` when the result is invalid. */
export function mergeMember<S extends z.ZodType>(schema: S, current: unknown, patch: unknown, member: string): z.output<S> {
  const merged = schema.safeParse(applyMergePatch(current, patch));
  if (merged.success) return merged.data;
  const details = issuesToDetails(merged.error.issues, `body.${member}`);
  throw new ApiError(400, 'validation_failed', `the merged ${member} is not valid: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);
}
