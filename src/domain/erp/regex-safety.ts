/**
 * Tenant regular expressions run on shared workers, so they run in RE2 (re2js, a pure JS port):
 * matching takes time linear in the input, whatever the pattern, where V8's backtracking engine can
 * take exponential (`(a+)+$`) or polynomial (`\d*\d*\d*x`) time and block the event loop. The price
 * is RE2 syntax: no backreferences, no lookarounds, `\x{…}` instead of `\u…`.
 *
 * Linear still has a constant: the work of one match is about (input length) × (program size).
 * Both are bounded, so one value costs at most REGEX_WORK_BUDGET steps (~50 ms measured on a
 * 10,000-character input), whatever the tenant wrote.
 */
import { RE2JS, RE2JSException } from 're2js';

/** Values longer than this are refused before a tenant regex runs over them. */
export const MAX_REGEX_INPUT = 10_000;
/** Compiled size cap (RE2 instructions): `.{0,200}` is ~400, typical extraction patterns under 100. */
export const MAX_REGEX_PROGRAM = 1_000;
/** Input characters × program instructions one match may cost; patterns up to 100 instructions get the full MAX_REGEX_INPUT. */
export const REGEX_WORK_BUDGET = 1_000_000;

/** A tenant pattern that RE2 cannot run, with the reason in words a tenant can act on. */
export class TenantPatternError extends Error {
  override readonly name = 'TenantPatternError';
}

/** A tenant pattern compiled for RE2, with the longest input it may run over. */
export interface TenantPattern {
  regex: RE2JS;
  maxInput: number;
}

export function compileTenantPattern(pattern: string): TenantPattern {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new TenantPatternError(
      `not an RE2 pattern (${err.message.replace(/^error parsing regexp: /, '')}); tenant patterns run in RE2, which has no backreferences or lookarounds`,
    );
  }
  const size = regex.programSize();
  if (size > MAX_REGEX_PROGRAM) {
    throw new TenantPatternError(`compiles to ${size} RE2 instructions, more than the ${MAX_REGEX_PROGRAM} allowed (large counted repetitions like {500})`);
  }
  return { regex, maxInput: Math.min(MAX_REGEX_INPUT, Math.floor(REGEX_WORK_BUDGET / Math.max(1, size))) };
}

/** Why `pattern` is refused, or null when it compiles within the caps. */
export function tenantPatternProblem(pattern: string): string | null {
  try {
    compileTenantPattern(pattern);
    return null;
  } catch (err) {
    if (err instanceof TenantPatternError) return err.message;
    throw err;
  }
}
