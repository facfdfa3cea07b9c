/**
 * A conservative check of tenant regular expressions for catastrophic backtracking, run when a
 * mapping is saved (and again when it is compiled). Hand-written rather than a dependency: the
 * shapes that make V8's backtracking engine exponential are few and easy to see in the pattern's
 * structure (star height above one, alternation under a repetition, backreferences), and refusing
 * them costs ERP field extraction nothing. Polynomial backtracking (`\d*\d*\d*x`) is not detected;
 * the input length bound in transformations.ts is what limits it.
 */

interface Group {
  /** A quantifier that matches a varying number of times occurs inside. */
  varies: boolean;
  /** A `|` occurs inside. */
  alternates: boolean;
}

/** Why `pattern` (a valid `u`-flag pattern) may backtrack catastrophically, or null when it has none of the known shapes. */
export function catastrophicBacktrackingReason(pattern: string): string | null {
  const stack: Group[] = [{ varies: false, alternates: false }];
  // What a quantifier right here would repeat: a group (with what it holds) or a single atom.
  let last: Group | null = null;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    const top = stack.at(-1)!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) return 'a backreference';
      // \p{…}, \P{…} and \u{…} carry braces that are not a quantifier.
      const braced = /^[pPu]\{[^}]*\}/.exec(pattern.slice(i + 1));
      i += 1 + (braced ? braced[0].length : 1);
      last = { varies: false, alternates: false };
      continue;
    }
    if (c === '[') {
      i += 1;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i += 1;
      last = { varies: false, alternates: false };
      continue;
    }
    if (c === '(') {
      stack.push({ varies: false, alternates: false });
      const prefix = /^\(\?(?::|=|!|<=|<!|<[^>]+>)/.exec(pattern.slice(i));
      i += prefix ? prefix[0].length : 1;
      last = null;
      continue;
    }
    if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : top;
      const parent = stack.at(-1)!;
      parent.varies ||= group.varies;
      parent.alternates ||= group.alternates;
      last = group;
      i += 1;
      continue;
    }
    if (c === '|') {
      top.alternates = true;
      last = null;
      i += 1;
      continue;
    }
    const quantifier = /^(?:[*+?]|\{(\d+)(,(\d*))?\})\??/.exec(pattern.slice(i));
    if (quantifier) {
      const [text, min, comma, max] = quantifier;
      const [lo, hi] =
        text[0] === '*'
          ? [0, Infinity]
          : text[0] === '+'
            ? [1, Infinity]
            : text[0] === '?'
              ? [0, 1]
              : [Number(min), comma === undefined ? Number(min) : max === '' ? Infinity : Number(max)];
      if (hi > 1 && last?.varies)
        return 'a repeated group holding a quantifier (nested quantifiers, like (a+)+)';
      if (hi > 1 && last?.alternates) return 'a repeated group holding alternatives (like (a|ab)*)';
      if (hi !== lo) top.varies = true;
      i += text.length;
      last = null;
      continue;
    }
    last = { varies: false, alternates: false };
    i += 1;
  }
  return null;
}
