/**
 * The auth types added to the shared `auth:` block (gateways, CRM targets, ERP connectors) next to
 * basic, bearer, header and the OAuth2 client-credentials and password grants of definition.ts:
 * `api_key` (any headers and query parameters), `session_token` (a login request), the OAuth2
 * refresh-token grant (a rotated refresh token is stored back), and `select` (one of several, by a
 * setting). The runtime is outbound-auth.ts.
 */
import { z } from 'zod';
import { parsePath } from '../../domain/template.js';

const text = z.string().max(2000).meta({ description: "A template over credentials and settings, e.g. '{{credentials.apiKey}}'." });
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'Not a valid header name');
const paramName = z.string().min(1).max(100);
const path = z.string().refine(
  (p) => {
    try {
      return parsePath(p).length > 0;
    } catch {
      return false;
    }
  },
  { message: "Not a valid path (use dotted keys and [index], e.g. 'data.token')" },
);

export const apiKeyAuth = z
  .strictObject({
    type: z.literal('api_key'),
    headers: z.record(headerName, text).optional().meta({ description: 'Headers sent on every request, e.g. {X-Account: "{{credentials.accountId}}"}.' }),
    query: z.record(paramName, text).optional().meta({ description: 'Query parameters added to every request.' }),
  })
  .refine((a) => Object.keys(a.headers ?? {}).length + Object.keys(a.query ?? {}).length > 0, {
    message: 'api_key sends at least one header or query parameter',
    path: ['headers'],
  })
  .meta({ description: 'Static keys from credentials: any set of headers and query parameters.' });

/** A login body leaf or branch: string leaves are templates over credentials and settings. */
type LoginValue = string | number | boolean | null | LoginValue[] | { [key: string]: LoginValue };
const loginValue: z.ZodType<LoginValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(loginValue), z.record(z.string(), loginValue)]),
);

const tokenApply = z.union([
  z.strictObject({
    header: headerName.meta({ description: 'Header carrying the token, e.g. Authorization.' }),
    value: z.string().max(2000).default('{{token}}').meta({ description: "Its value; '{{token}}' is the token, e.g. 'Bearer {{token}}'." }),
  }),
  z.strictObject({
    query: paramName.meta({ description: 'Query parameter carrying the token, e.g. sid.' }),
    value: z.string().max(2000).default('{{token}}'),
  }),
]);

export const sessionTokenAuth = z
  .strictObject({
    type: z.literal('session_token'),
    login: z
      .strictObject({
        method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
        path: z
          .string()
          .max(2000)
          .refine((p) => p.startsWith('/'), "A path starts with '/' (it is appended to baseUrl)")
          .meta({ description: 'Login endpoint, appended to baseUrl.' }),
        headers: z.record(headerName, text).optional(),
        body: z
          .strictObject({ encoding: z.enum(['json', 'form']), template: z.record(z.string(), loginValue) })
          .optional()
          .meta({ description: 'The login body; its string leaves are templates over credentials and settings.' }),
      })
      .meta({ description: 'The login request.' }),
    tokenPath: path.meta({ description: "Where the token is in the login answer, e.g. 'data.token'." }),
    expiresInPath: path.optional().meta({ description: 'Where the lifetime in seconds is in the login answer.' }),
    lifetimeSeconds: z
      .number()
      .int()
      .positive()
      .max(31 * 86_400)
      .optional()
      .meta({ description: 'The lifetime when the answer does not say; without either, the token is kept until a 401.' }),
    apply: tokenApply.meta({ description: 'How the token is sent: {header, value} or {query, value}.' }),
  })
  .meta({
    description: 'Logs in with a request, caches the token per connection for its lifetime, logs in again once on a 401.',
  });

export const oauth2RefreshTokenAuth = z
  .strictObject({
    type: z.literal('oauth2_refresh_token'),
    tokenUrl: text.meta({ description: "Token endpoint; a path starting with '/' is relative to baseUrl." }),
    clientId: text,
    clientSecret: text.optional(),
    scope: text.optional(),
    refreshTokenCredential: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/)
      .meta({ description: "The credential holding the refresh token (e.g. refreshToken); a rotated one is stored back into it, encrypted." }),
    clientAuthentication: z.enum(['body', 'basic']).default('body'),
  })
  .meta({
    description:
      'OAuth2 refresh-token grant: an access token per connection, cached until shortly before expires_in, fetched again on a 401; a new refresh_token in the answer replaces the stored one.',
  });

/** `select`: one of several auth blocks, chosen by a setting. `inner` is the union of the other types. */
export function selectAuthOf<T extends z.ZodType>(inner: T) {
  return z
    .strictObject({
      type: z.literal('select'),
      by: text.meta({ description: "A template over settings whose value names the option, e.g. '{{settings.authMethod}}'." }),
      options: z
        .record(z.string().min(1), inner)
        .refine((o) => Object.keys(o).length > 0, 'name at least one option')
        .meta({ description: 'Option name → auth block.' }),
    })
    .meta({ description: 'Chooses one of several auth blocks by a connection setting; an unknown value is refused.' });
}

/** A template field of an auth block and the variables it may use. */
export interface AuthTemplate {
  path: (string | number)[];
  value: string;
  allowed: readonly string[];
}

/**
 * The templates of an auth block (nested options included), each with its allowed variables:
 * credentials and settings everywhere, `token` only in session_token's apply.value, settings only
 * in select's `by`. Names that are not templates (types, paths, header names) are left out.
 */
export function authTemplates(auth: Record<string, unknown>, at: (string | number)[]): AuthTemplate[] {
  const connection = ['credentials', 'settings'] as const;
  const out: AuthTemplate[] = [];
  const add = (path: (string | number)[], value: unknown, allowed: readonly string[]): void => {
    if (typeof value === 'string') out.push({ path, value, allowed });
    else if (Array.isArray(value)) value.forEach((v, i) => add([...path, i], v, allowed));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) add([...path, k], v, allowed);
  };
  switch (auth['type']) {
    case 'select':
      add([...at, 'by'], auth['by'], ['settings']);
      for (const [name, option] of Object.entries((auth['options'] ?? {}) as Record<string, Record<string, unknown>>)) {
        out.push(...authTemplates(option, [...at, 'options', name]));
      }
      return out;
    case 'session_token': {
      const login = (auth['login'] ?? {}) as Record<string, unknown>;
      add([...at, 'login', 'path'], login['path'], connection);
      add([...at, 'login', 'headers'], login['headers'], connection);
      add([...at, 'login', 'body', 'template'], (login['body'] as Record<string, unknown> | undefined)?.['template'], connection);
      add([...at, 'apply', 'value'], (auth['apply'] as Record<string, unknown> | undefined)?.['value'], ['token']);
      return out;
    }
    default:
      for (const [k, v] of Object.entries(auth)) {
        if (!['type', 'name', 'clientAuthentication', 'refreshTokenCredential'].includes(k)) add([...at, k], v, connection);
      }
      return out;
  }
}

/** Credential names an auth block refers to by name (not by template). */
export function authCredentialRefs(auth: Record<string, unknown>, at: (string | number)[]): { path: (string | number)[]; name: string }[] {
  if (auth['type'] === 'oauth2_refresh_token') return [{ path: [...at, 'refreshTokenCredential'], name: String(auth['refreshTokenCredential']) }];
  if (auth['type'] === 'select') {
    return Object.entries((auth['options'] ?? {}) as Record<string, Record<string, unknown>>).flatMap(([name, option]) =>
      authCredentialRefs(option, [...at, 'options', name]),
    );
  }
  return [];
}

