import { invalidRequest } from './stripe-errors.js';
import type { PaymentIntentObject } from './objects.js';

/**
 * A subset of Stripe's Search Query Language for PaymentIntents: clauses such as
 * `metadata['order']:'42'`, `status:'succeeded'`, `amount>1000`, optionally negated with `-`, joined
 * with either AND or OR (Stripe forbids mixing them).
 */
export type PaymentIntentPredicate = (intent: PaymentIntentObject) => boolean;

const CLAUSE =
  /\s*(-?)(metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_]+)(:|>=|<=|>|<)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)\s*(?:(AND|OR)(?=\s)|$)/y;

const FIELDS = new Set(['amount', 'created', 'currency', 'customer', 'status']);

function unquote(raw: string): string {
  const quoted = /^(['"])(.*)\1$/s.exec(raw);
  return quoted ? (quoted[2] ?? '').replace(/\\(.)/g, '$1') : raw;
}

function fieldValue(intent: PaymentIntentObject, field: string): string | number | null | undefined {
  const metadataKey = /^metadata\[(['"])(.*)\1\]$/.exec(field);
  if (metadataKey) return intent.metadata[metadataKey[2] ?? ''];
  switch (field) {
    case 'amount':
      return intent.amount;
    case 'created':
      return intent.created;
    case 'currency':
      return intent.currency;
    case 'customer':
      return intent.customer;
    default:
      return intent.status;
  }
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
  const clauses: PaymentIntentPredicate[] = [];
  const joiners = new Set<string>();
  CLAUSE.lastIndex = 0;
  while (CLAUSE.lastIndex < query.length) {
    const match = CLAUSE.exec(query);
    if (!match) break;
    const [, negate, field = '', op = ':', rawValue = '', joiner] = match;
    if (!field.startsWith('metadata[') && !FIELDS.has(field)) {
      throw invalidRequest(`Field \`${field}\` is an unsupported search field for PaymentIntents.`, {
        param: 'query',
      });
    }
    const value = unquote(rawValue);
    const clause: PaymentIntentPredicate = (intent) => compare(fieldValue(intent, field), op, value);
    clauses.push(negate ? (intent) => !clause(intent) : clause);
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
