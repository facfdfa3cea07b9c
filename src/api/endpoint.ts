import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { ApiError, type ErrorDetail } from './errors.js';
import { guardRequest, jsonTextOf, textBody } from './input-guards.js';
import type { HttpMethod, OpenApiRegistry, OperationDoc, Security } from './openapi.js';

/** The authenticated tenant of a request (from its API key; never from a path or body). */
export interface TenantContext {
  id: string;
  name: string;
  /** The API key that authenticated the request (the "who" of audit events). */
  apiKeyId: string;
  scope: ApiKeyScope;
}

/** `read` keys may call read routes only; `full` keys may call every tenant route. */
export type ApiKeyScope = 'read' | 'full';
export const API_KEY_SCOPES = ['read', 'full'] as const satisfies readonly ApiKeyScope[];

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface EndpointSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined, P extends z.ZodType | undefined>
  extends Omit<OperationDoc, 'method' | 'path' | 'tag' | 'security' | 'body' | 'query' | 'params'> {
  body?: B;
  query?: Q;
  params?: P;
  security?: Security;
  /** Hand the handler the raw bytes (webhook signatures are computed over them). */
  rawBody?: boolean;
  /**
   * The body may also be sent as text of other media types (YAML definitions), and its validation
   * problems carry the line and column of the field (JSON bodies too).
   */
  textBody?: TextBodySpec;
  /**
   * Scope a tenant key needs. Default: `read` for GET (and HEAD), `full` for every other method, so a
   * new write route is closed to read-only keys unless it says otherwise.
   */
  scope?: ApiKeyScope;
  /**
   * Unauthenticated routes are limited per client address unless this is false (the route then
   * limits itself, e.g. webhooks per verified connection, or is a cheap probe such as /health).
   */
  rateLimit?: boolean;
}

/** Where a validation issue's field is written in the body's text, 1-based. */
export type IssueLocator = (issue: z.core.$ZodIssue) => { line: number; column: number } | undefined;

export interface TextBodySpec {
  /** Media types read as UTF-8 text besides application/json, e.g. application/yaml. */
  contentTypes: string[];
  /**
   * Reads a body's text: a text body always, a JSON body's text only when it fails validation (to
   * locate the problems). Throws an ApiError when the text cannot be read.
   */
  read(text: string, format: 'text' | 'json'): { value: unknown; locate: IssueLocator };
}

export interface EndpointInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  tenant: TenantContext;
  requestId: string;
  /** Where the body field at `path` is written, for the handler's own checks (routes with `textBody`). */
  bodyPosition: (path: PropertyKey[]) => { line: number; column: number } | undefined;
  req: Request;
  res: Response;
}

export function issuesToDetails(issues: z.core.$ZodIssue[], root: string, locate?: () => IssueLocator | undefined): ErrorDetail[] {
  const at = issues.length > 0 ? locate?.() : undefined;
  return issues.map((i) => ({
    path: [root, ...i.path.map(String)].join('.'),
    message: i.message,
    ...at?.(i),
  }));
}

function parsePart(schema: z.ZodType | undefined, value: unknown, root: string, details: ErrorDetail[], locate?: () => IssueLocator | undefined): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  details.push(...issuesToDetails(result.error.issues, root, locate));
  return undefined;
}

/** 403 unless the request's key carries `needed` (a `full` key carries every scope). */
function requireScope(needed: ApiKeyScope): RequestHandler {
  return (_req, res, next) => {
    const { scope } = res.locals.tenant as TenantContext;
    if (needed === 'full' && scope !== 'full') {
      return next(new ApiError(403, 'insufficient_scope', `this route needs an API key with scope "full"; the key used has scope "${scope}"`));
    }
    next();
  };
}

/**
 * One router per resource. Each endpoint is validated with its zod schemas (handlers only ever see
 * parsed values) and documented in the OpenAPI registry from the same schemas.
 */
export class ResourceRouter {
  readonly router = Router();

  constructor(
    private readonly openapi: OpenApiRegistry,
    private readonly tag: string,
    private readonly authenticate: Record<Exclude<Security, 'none'>, RequestHandler>,
    /** Limits unauthenticated routes per client address (tenant and admin routes are limited by their auth). */
    private readonly anonymousLimit?: RequestHandler,
  ) {}

  endpoint<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, P extends z.ZodType | undefined = undefined>(
    method: HttpMethod,
    path: string,
    spec: EndpointSpec<B, Q, P>,
    handler: (input: EndpointInput<Infer<B>, Infer<Q>, Infer<P>>) => Promise<void>,
  ): this {
    const security = spec.security ?? 'tenant';
    const { rawBody: _raw, scope: declaredScope, rateLimit, textBody: textSpec, ...doc } = spec;
    const scope = security === 'tenant' ? (declaredScope ?? (method === 'get' ? 'read' : 'full')) : undefined;
    this.openapi.add({ ...doc, method, path, tag: this.tag, security, ...(scope ? { scope } : {}), ...(textSpec ? { textBodyTypes: textSpec.contentTypes } : {}) });
    const guards: RequestHandler[] = [];
    if (security !== 'none') guards.push(this.authenticate[security]);
    else if (rateLimit !== false && this.anonymousLimit) guards.push(this.anonymousLimit);
    if (scope) guards.push(requireScope(scope));
    if (spec.rawBody) guards.unshift(express.raw({ type: () => true, limit: '1mb' }));
    const text = spec.textBody;
    if (text) guards.push(textBody(text.contentTypes));
    this.router[method](path, ...guards, async (req, res) => {
      let locate: (() => IssueLocator | undefined) | undefined;
      if (text) {
        // express.text read a body of those types as a string; the handler sees the value, as for JSON.
        if (typeof req.body === 'string') {
          const read = text.read(req.body, 'text');
          req.body = read.value;
          locate = () => read.locate;
        } else {
          locate = () => {
            const json = jsonTextOf(req);
            try {
              return json === undefined ? undefined : text.read(json, 'json').locate;
            } catch {
              return undefined; // positions are an aid: the problems are reported without them
            }
          };
        }
      }
      guardRequest(req, spec.body !== undefined && !spec.rawBody, text?.contentTypes);
      if (spec.streamBody && !req.is(spec.streamBody.contentTypes)) {
        throw new ApiError(415, 'unsupported_media_type', `send the body as one of ${spec.streamBody.contentTypes.join(', ')} (got "${req.get('content-type') ?? 'none'}")`);
      }
      const details: ErrorDetail[] = [];
      const params = parsePart(spec.params, req.params, 'params', details);
      const query = parsePart(spec.query, req.query, 'query', details);
      const body = parsePart(spec.body, req.body, 'body', details, locate);
      if (details.length > 0) {
        throw new ApiError(400, 'validation_failed', `invalid request: ${details.map((d) => d.path).join(', ')}`, details);
      }
      await handler({
        body: body as Infer<B>,
        query: query as Infer<Q>,
        params: params as Infer<P>,
        tenant: res.locals.tenant as TenantContext,
        requestId: String(res.locals.requestId),
        bodyPosition: (at) => locate?.()?.({ code: 'custom', path: at, message: '', input: undefined }),
        req,
        res,
      });
    });
    return this;
  }
}
