/**
 * How a failed gateway call is classified. The definition's error table is checked first (in
 * order); when nothing matches, these defaults apply:
 *
 * | outcome                                              | class        | why                                   |
 * | ---------------------------------------------------- | ------------ | ------------------------------------- |
 * | connection refused, DNS failure, unreachable host    | retryable    | the request provably never left       |
 * | timeout, connection reset/closed after sending       | ambiguous    | it may have been processed            |
 * | 401, 403                                             | credentials  | InvalidCredentialsError, not a decline |
 * | 408 Request Timeout                                  | retryable    | the server did not read the request   |
 * | 409 Conflict                                         | ambiguous    | usually "same idempotency key in flight" |
 * | 429 Too Many Requests                                | retryable    | throttled before processing           |
 * | 500, 502, 504                                        | ambiguous    | the provider (or its upstream) may have processed it |
 * | 503 and other 5xx                                    | retryable    | unavailable: refused before processing |
 * | other 4xx                                            | hard_decline | the provider refused this request     |
 * | 1xx/3xx (redirects are not followed)                 | ambiguous    | unexpected; ask for the status        |
 * | 2xx with a status not in statusMap                   | ambiguous    | the workflow queries the status again |
 * | 2xx whose status maps to `failed` (authorize, capture, cancel) | hard_decline | a decline, with its decline code |
 */
import type { ErrorClass } from '../../domain/failures.js';
import type { ProviderDefinition } from './definition.js';

export type HttpClassification = ErrorClass | 'invalid_credentials';

type ErrorRule = ProviderDefinition['errors']['rules'][number];

function statusMatches(rule: ErrorRule, status: number): boolean {
  if (rule.httpStatus === undefined) return true;
  if (typeof rule.httpStatus === 'number') return rule.httpStatus === status;
  const [from, to] = rule.httpStatus;
  return status >= from && status <= to;
}

function codeMatches(rule: ErrorRule, code: string | undefined): boolean {
  if (rule.code === undefined) return true;
  if (code === undefined) return false;
  return Array.isArray(rule.code) ? rule.code.includes(code) : rule.code === code;
}

/** The default class of a non-2xx HTTP status (see the table above). */
export function defaultHttpClassification(status: number): HttpClassification {
  if (status === 401 || status === 403) return 'invalid_credentials';
  if (status === 408 || status === 429) return 'retryable';
  if (status === 409) return 'ambiguous';
  if (status === 500 || status === 502 || status === 504) return 'ambiguous';
  if (status >= 500) return 'retryable';
  if (status >= 400) return 'hard_decline';
  return 'ambiguous';
}

/** Classifies a non-2xx answer: the first matching rule of the table, else the defaults. */
export function classifyHttpFailure(
  rules: readonly ErrorRule[],
  status: number,
  code: string | undefined,
): HttpClassification {
  const rule = rules.find((r) => statusMatches(r, status) && codeMatches(r, code));
  return rule ? rule.classification : defaultHttpClassification(status);
}
