import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { ApiError, type ErrorDetail } from './errors.js';
import { guardRequest } from './input-guards.js';
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

export interface EndpointInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  tenant: TenantContext;
  requestId: string;
  req: Request;
  res: Response;
}

export function issuesToDetails(issues: z.core.$ZodIssue[], root: string): ErrorDetail[] {
  return issues.map((i) => ({
    path: [root, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
}

function parsePart(schema: z.ZodType | undefined, value: unknown, root: string, details: ErrorDetail[]): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  details.push(...issuesToDetails(result.error.issues, root));
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
    const { rawBody: _raw, scope: declaredScope, rateLimit, ...doc } = spec;
    const scope = security === 'tenant' ? (declaredScope ?? (method === 'get' ? 'read' : 'full')) : undefined;
    this.openapi.add({ ...doc, method, path, tag: this.tag, security, ...(scope ? { scope } : {}) });
    const guards: RequestHandler[] = [];
    if (security !== 'none') guards.push(this.authenticate[security]);
    else if (rateLimit !== false && this.anonymousLimit) guards.push(this.anonymousLimit);
    if (scope) guards.push(requireScope(scope));
    if (spec.rawBody) guards.unshift(express.raw({ type: () => true, limit: '1mb' }));
    this.router[method](path, ...guards, async (req, res) => {
      guardRequest(req, spec.body !== undefined && !spec.rawBody);
      if (spec.streamBody && !req.is(spec.streamBody.contentTypes)) {
        throw new ApiError(415, 'unsupported_media_type', `send the body as one of ${spec.streamBody.contentTypes.join(', ')} (got "${req.get('content-type') ?? 'none'}")`);
      }
      const details: ErrorDetail[] = [];
      const params = parsePart(spec.params, req.params, 'params', details);
      const query = parsePart(spec.query, req.query, 'query', details);
      const body = parsePart(spec.body, req.body, 'body', details);
      if (details.length > 0) {
        throw new ApiError(400, 'validation_failed', `invalid request: ${details.map((d) => d.path).join(', ')}`, details);
      }
      await handler({
        body: body as Infer<B>,
        query: query as Infer<Q>,
        params: params as Infer<P>,
        tenant: res.locals.tenant as TenantContext,
        requestId: String(res.locals.requestId),
        req,
        res,
      });
    });
    return this;
  }
}
