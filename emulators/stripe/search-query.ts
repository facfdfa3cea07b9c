import { invalidRequest } from './stripe-errors.js';
import type { PaymentIntentObject } from './objects.js';

/**
 * A subset of Stripe's Search Query Language: clauses such as `metadata['order']:'42'`,
 * `status:'succeeded'`, `amount>1000`, optionally negated with `-`, joined with either AND or OR
 * (Stripe forbids mixing them).
 */
export type PaymentIntentPredicate = (intent: PaymentIntentObject) => boolean;
/** Searchable top-level fields of a resource, and how to read them. */
type FieldReaders<T> = Record<string, (item: T) => string | number | null | undefined>;

const CLAUSE =
  /\s*(-?)(metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_]+)(:|>=|<=|>|<)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)\s*(?:(AND|OR)(?=\s)|$)/y;

const PAYMENT_INTENT_FIELDS: FieldReaders<PaymentIntentObject> = {
  amount: (pi) => pi.amount,
  created: (pi) => pi.created,
  currency: (pi) => pi.currency,
  customer: (pi) => pi.customer,
  status: (pi) => pi.status,
};

function unquote(raw: string): string {
  const quoted = /^(['"])(.*)\1$/s.exec(raw);
  return quoted ? (quoted[2] ?? '').replace(/\\(.)/g, '$1') : raw;
}

function fieldValue<T extends { metadata: Record<string, string> }>(item: T, field: string, readers: FieldReaders<T>) {
  const metadataKey = /^metadata\[(['"])(.*)\1\]$/.exec(field);
  if (metadataKey) return item.metadata[metadataKey[2] ?? ''];
  return readers[field]?.(item);
}

function compare(actual: string | number | null | undefined, op: string, expected: string): boolean {
  if (actual === undefined || actual === null) return false;
  if (op === ':') return String(actual) === expected;
  const a = Number(actual);
  const b = Number(expected);
  if (op === '>') return a > b;
  if (op === '>=') return a >= b;
  if (op === '<') return a < b;
  return a <= b;
}

export function parsePaymentIntentQuery(query: string): PaymentIntentPredicate {
  return parseSearchQuery(query, PAYMENT_INTENT_FIELDS, 'PaymentIntents');
}

export function parseSearchQuery<T extends { metadata: Record<string, string> }>(
  query: string,
  readers: FieldReaders<T>,
  resourceName: string,
): (item: T) => boolean {
  const clauses: ((item: T) => boolean)[] = [];
  const joiners = new Set<string>();
  CLAUSE.lastIndex = 0;
  while (CLAUSE.lastIndex < query.length) {
    const match = CLAUSE.exec(query);
    if (!match) break;
    const [, negate, field = '', op = ':', rawValue = '', joiner] = match;
    if (!field.startsWith('metadata[') && !Object.hasOwn(readers, field)) {
      throw invalidRequest(`Field \`${field}\` is an unsupported search field for ${resourceName}.`, {
        param: 'query',
      });
    }
    const value = unquote(rawValue);
    const clause = (item: T) => compare(fieldValue(item, field, readers), op, value);
    clauses.push(negate ? (item) => !clause(item) : clause);
    if (joiner) joiners.add(joiner);
    if (!joiner) break;
  }
  if (clauses.length === 0 || CLAUSE.lastIndex < query.trimEnd().length) {
    throw invalidRequest(
      `We were unable to parse your search query. Try using the format \`metadata['key']:'value'\`.`,
      {
        param: 'query',
      },
    );
  }
  if (joiners.size > 1) throw invalidRequest('Queries may not mix AND and OR.', { param: 'query' });
  return joiners.has('OR') ? (pi) => clauses.some((c) => c(pi)) : (pi) => clauses.every((c) => c(pi));
}
