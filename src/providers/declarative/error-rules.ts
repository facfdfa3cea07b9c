/**
 * Error actions (`onError`) of CRM endpoints and ERP REST streams: rules that match an answer by its
 * status and a value in its body, checked in order before the engine's defaults, and say what to do
 * with it. Gateways keep their `errors.rules` classifications (definition.ts).
 */
import { RE2JSException } from 're2js';
import { z } from 'zod';
import { compileTenantPattern, tenantPatternProblem } from '../../domain/erp/regex-safety.js';
import { parsePath, readPath } from '../../domain/template.js';

export const ERROR_ACTIONS = ['retry', 'ignore', 'fail', 'rate_limited', 'refresh_auth'] as const;
export type ErrorAction = (typeof ERROR_ACTIONS)[number];

const status = z.number().int().min(100).max(599);

const errorActionRule = z
  .strictObject({
    httpStatus: z
      .union([status, z.tuple([status, status])])
      .optional()
      .meta({ description: 'One HTTP status (2xx included: a 200 may carry an error), or an inclusive range [from, to].' }),
    bodyPath: z
      .string()
      .refine(
        (p) => {
          try {
            return parsePath(p).length > 0;
          } catch {
            return false;
          }
        },
        { message: "not a valid path (dotted keys and [index], e.g. 'error.code')" },
      )
      .optional()
      .meta({ description: 'A value in the JSON body; alone, the rule matches when it is present (not null).' }),
    bodyEquals: z
      .union([z.string().max(1000), z.number(), z.boolean()])
      .optional()
      .meta({ description: 'The value at bodyPath equals this (a number or boolean also matches its text).' }),
    bodyMatches: z
      .string()
      .min(1)
      .max(200)
      .superRefine((p, ctx) => {
        const problem = tenantPatternProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .meta({ description: 'An RE2 pattern found in the text at bodyPath (no backreferences or lookarounds).' }),
    action: z.enum(ERROR_ACTIONS).meta({
      description:
        'retry: retryable failure; ignore: an ERP page is an empty last page, a CRM retrieve/delete finds nothing; fail: a failure not retried; rate_limited: retried after the rate-limit headers; refresh_auth: the token or session is fetched again and the request retried once.',
    }),
    message: z.string().max(500).optional().meta({ description: 'Said in the failure (fail, retry).' }),
  })
  .refine((r) => r.httpStatus !== undefined || r.bodyPath !== undefined, { message: 'a rule needs httpStatus, bodyPath, or both' })
  .refine((r) => r.bodyEquals === undefined || r.bodyMatches === undefined, {
    message: 'give bodyEquals or bodyMatches, not both',
    path: ['bodyMatches'],
  })
  .refine((r) => (r.bodyEquals === undefined && r.bodyMatches === undefined) || r.bodyPath !== undefined, {
    message: 'bodyEquals and bodyMatches compare the value at bodyPath: give bodyPath',
    path: ['bodyPath'],
  });

export const errorActionsSchema = z.array(errorActionRule).max(50).optional().meta({
  id: 'ErrorActions',
  description:
    "Checked in order on every answer (2xx included) before the defaults; the first match wins. E.g. [{httpStatus: 404, action: ignore}, {httpStatus: 200, bodyPath: error, bodyEquals: throttled, action: rate_limited}].",
});

export type ErrorActionRule = z.output<typeof errorActionRule>;

function statusMatches(rule: ErrorActionRule, status: number): boolean {
  if (rule.httpStatus === undefined) return true;
  if (typeof rule.httpStatus === 'number') return rule.httpStatus === status;
  return status >= rule.httpStatus[0] && status <= rule.httpStatus[1];
}

function bodyMatches(rule: ErrorActionRule, body: unknown): boolean {
  if (rule.bodyPath === undefined) return true;
  const value = readPath(body, rule.bodyPath);
  if (value === undefined || value === null) return false;
  if (rule.bodyEquals !== undefined) return value === rule.bodyEquals || (typeof value !== 'object' && String(value) === String(rule.bodyEquals));
  if (rule.bodyMatches !== undefined) {
    if (typeof value === 'object') return false;
    const text = String(value);
    const { regex, maxInput } = compileTenantPattern(rule.bodyMatches);
    try {
      return regex.test(text.length > maxInput ? text.slice(0, maxInput) : text);
    } catch (err) {
      if (err instanceof RE2JSException) return false;
      throw err;
    }
  }
  return true;
}

/**
 * The first rule matching an answer, or undefined. `body` is the parsed JSON (or text) of the
 * answer; undefined when it is not read (a CSV download), then rules with a bodyPath never match.
 */
export function errorActionOf(rules: readonly ErrorActionRule[] | undefined, status: number, body: unknown): ErrorActionRule | undefined {
  return rules?.find((rule) => statusMatches(rule, status) && bodyMatches(rule, body));
}

/** CRM endpoints where `ignore` means something (not found, nothing to delete). */
export const IGNORABLE_CRM_ENDPOINTS: readonly string[] = ['retrieve', 'delete'];

/** Indexes of `ignore` rules on a CRM endpoint that cannot ignore (a create or a list has no "nothing"). */
export function misplacedIgnores(endpoint: string, rules: readonly ErrorActionRule[] | undefined): number[] {
  if (IGNORABLE_CRM_ENDPOINTS.includes(endpoint)) return [];
  return (rules ?? []).flatMap((rule, i) => (rule.action === 'ignore' ? [i] : []));
}

/** The text of a failure a rule decided: its message, else the status and rule. */
export function ruleMessage(rule: ErrorActionRule, status: number): string {
  return rule.message ?? `HTTP ${status} matched an onError rule (${rule.action})`;
}
