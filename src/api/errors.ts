import type { ErrorRequestHandler, RequestHandler } from 'express';

/** Stable, machine-readable error codes. Clients branch on these, never on messages. */
export type ErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'idempotency_key_required'
  | 'idempotency_key_reused'
  | 'idempotency_request_in_progress'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'webhook_signature_invalid'
  | 'service_unavailable'
  | 'internal_error';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** Every failure the API answers with; rendered by {@link errorHandler} in one shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, 'not_found', `${what} ${id} not found`);
  }
}

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

interface BodyParserError {
  type?: string;
  status?: number;
}

function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const parserError = err as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', 'request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding');
  }
  return undefined;
}

export function errorHandler(log: { error(msg: string, fields?: object): void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = String(res.locals.requestId ?? '');
    const apiError = toApiError(err);
    if (!apiError) {
      // Unexpected: log the error (never request bodies, which may carry credentials), answer generically.
      log.error('unhandled error', {
        requestId,
        method: req.method,
        path: req.path,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    }
    const e = apiError ?? new ApiError(500, 'internal_error', 'internal error; quote the request id when reporting');
    res.status(e.status).json({
      error: { code: e.code, message: e.message, requestId, ...(e.details ? { details: e.details } : {}) },
    });
  };
}
