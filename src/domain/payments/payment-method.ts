/**
 * Guards against raw card numbers entering the platform: payments carry gateway tokens or
 * payment-method references only, so anything that looks like a PAN in a request is refused.
 */

/**
 * Runs of digits, each group separated from the next by exactly one space or dash. Non-digit
 * characters around a run do not protect it: `tok_4242424242424242` still contains a PAN.
 */
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;
const MIN_PAN_DIGITS = 12;
const MAX_PAN_DIGITS = 19;

/**
 * True when the string contains a 12-19 digit sequence (optionally grouped with single spaces or
 * dashes) that passes the Luhn check. Any contiguous span of groups is tried, so a PAN that follows
 * another number ("order 17 4242 4242 4242 4242") is found; an unbroken digit run is taken whole,
 * since every long number contains some Luhn-valid 12-19 digit slice. All-zero sequences are not
 * treated as card numbers (placeholder values).
 */
export function looksLikeCardNumber(value: string): boolean {
  for (const run of value.match(DIGIT_RUN) ?? []) {
    const groups = run.split(/[ -]/);
    for (let start = 0; start < groups.length; start++) {
      let digits = '';
      for (let end = start; end < groups.length; end++) {
        digits += groups[end];
        if (digits.length > MAX_PAN_DIGITS) break;
        if (digits.length >= MIN_PAN_DIGITS && !/^0+$/.test(digits) && passesLuhn(digits)) return true;
      }
    }
  }
  return false;
}

/** The Luhn (mod 10) checksum over a string of ASCII digits. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Walks strings, numbers, arrays and objects (keys included) depth-first, in document order, and
 * returns the path of the first value that looks like a card number, or null. `root` names the value
 * in the path: `containsCardNumber(body.metadata, 'metadata')` → `metadata.items[0].note`.
 * Iterative and cycle-safe, so a hostile, deeply nested body cannot overflow the stack.
 */
export function containsCardNumber(value: unknown, root = '$'): string | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: root }];
  const visited = new Set<object>();
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (looksLikeCardNumber(current)) return path;
    } else if (typeof current === 'number' || typeof current === 'bigint') {
      if (looksLikeCardNumber(String(current))) return path;
    } else if (typeof current === 'object' && current !== null) {
      if (visited.has(current)) continue;
      visited.add(current);
      const children: { value: unknown; path: string }[] = [];
      if (Array.isArray(current)) {
        current.forEach((item, i) => children.push({ value: item, path: `${path}[${i}]` }));
      } else {
        for (const [key, item] of Object.entries(current)) {
          const childPath = `${path}${formatKey(key)}`;
          children.push({ value: key, path: childPath }, { value: item, path: childPath });
        }
      }
      // Reversed so that popping visits children in document order.
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }
  return null;
}

function formatKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
