import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { httpRequestDuration, idempotentReplays } from '../metrics/api-metrics.js';

/**
 * One log line and one latency observation per request, labelled by route template (never the raw
 * path, whose ids would make a metric per payment). Handlers find a request-scoped logger in
 * `res.locals.log`.
 */
export function observeRequests(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = String(res.locals.requestId ?? '');
    res.locals.log = logger.child({ requestId });
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const status = res.statusCode;
      httpRequestDuration.observe({ method: req.method, route, status_code: String(status) }, seconds);
      if (res.getHeader('idempotent-replayed') === 'true') idempotentReplays.inc({ route });
      const tenantId = (res.locals.tenant as { id?: string } | undefined)?.id;
      const fields = { requestId, ...(tenantId ? { tenantId } : {}), method: req.method, route, path: req.path, status, durationMs: Math.round(seconds * 1000) };
      if (status >= 500) logger.warn('request failed', fields);
      else logger.info('request', fields);
    });
    next();
  };
}
