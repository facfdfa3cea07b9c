import { Router, type RequestHandler } from 'express';
import { ApiError } from './errors.js';
import type { OpenApiRegistry } from './openapi.js';

/**
 * Answers 405 with `Allow` when a path exists but not for the request's method (instead of 404).
 * Built from the OpenAPI registry on first use, so every route added through a ResourceRouter is
 * covered, and matched by an Express router, so paths match exactly as the routes themselves do.
 * Mount after every resource router and before the 404 handler.
 */
export function methodNotAllowed(openapi: OpenApiRegistry): RequestHandler {
  let router: Router | undefined;
  const build = (): Router => {
    const r = Router();
    for (const [path, methods] of openapi.methodsByPath()) {
      const allowed = methods.map((m) => m.toUpperCase());
      if (allowed.includes('GET')) allowed.push('HEAD');
      r.all(path, (_req, res, next) => {
        const seen = (res.locals.allowedMethods as Set<string> | undefined) ?? new Set<string>();
        for (const m of allowed) seen.add(m);
        res.locals.allowedMethods = seen;
        next();
      });
    }
    r.use((req, res, next) => {
      const seen = res.locals.allowedMethods as Set<string> | undefined;
      if (!seen) return next();
      const allow = [...seen].join(', ');
      next(new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; use ${allow}`, undefined, { Allow: allow }));
    });
    return r;
  };
  return (req, res, next) => {
    router ??= build();
    router(req, res, next);
  };
}
