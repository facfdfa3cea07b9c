import { isGrpcServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { CredentialDecryptionError, UnknownCredentialKeyError, type CredentialCipher } from '../secrets/credential-cipher.js';
import { MappingCompileError } from '../domain/erp/mapping.js';

/** Stable, machine-readable error codes. Clients branch on these, never on messages. */
export type ErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'unauthorized'
  | 'insufficient_scope'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'credentials_key_unavailable'
  | 'credentials_undecryptable'
  | 'not_found'
  | 'conflict'
  | 'mapping_invalid'
  | 'precondition_failed'
  | 'idempotency_key_required'
  | 'idempotency_key_reused'
  | 'idempotency_request_in_progress'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'webhook_signature_invalid'
  | 'service_unavailable'
  | 'destination_blocked'
  | 'method_not_allowed'
  | 'invalid_request'
  | 'webhook_payload_invalid'
  | 'internal_error';

export interface ErrorDetail {
  path: string;
  message: string;
  /** Where the field is written in a body sent as text (YAML or JSON definitions), 1-based. */
  line?: number;
  column?: number;
}

/** Every failure the API answers with; rendered by {@link errorHandler} in one shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers (Allow on 405, Retry-After on 503). */
    readonly headers?: Record<string, string>,
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
  expose?: boolean;
  message?: string;
}

/** Seconds a client should wait before retrying while a dependency is down. */
const RETRY_AFTER_SECONDS = '5';

/** The error and its causes (drizzle wraps driver errors in DrizzleQueryError with `cause`). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e && typeof e === 'object' && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/**
 * postgres.js connection failures (its own codes, Node socket codes) and SQLSTATEs meaning "the server
 * cannot take queries now": class 08 connection exception, 53300 too many connections, 57P01-57P03
 * shutting down or starting up. Any error of severity FATAL or PANIC ended the session as well (e.g.
 * 3D000, the database was dropped).
 */
const DATABASE_DOWN = /^(CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|08\w{3}|53300|57P0[123])$/;
/** gRPC UNAVAILABLE and DEADLINE_EXCEEDED from the Temporal client. */
const GRPC_UNAVAILABLE = new Set([14, 4]);

function dependencyDown(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DATABASE_DOWN.test(code)) return 'the database';
    const severity = (e as { severity?: unknown }).severity;
    if (severity === 'FATAL' || severity === 'PANIC') return 'the database';
    if (isGrpcServiceError(e) && GRPC_UNAVAILABLE.has(e.code)) return 'Temporal';
  }
  return undefined;
}

/**
 * Safety net for values the database refuses (SQLSTATE class 22 "data exception": a NUL character,
 * a number out of range; 54001 a JSON value nested too deep). Routes validate first and name the
 * field; this keeps a value that slipped through a 4xx rather than a 500.
 */
function refusedValue(err: unknown): boolean {
  return causes(err).some((e) => {
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    return typeof severity === 'string' && typeof code === 'string' && (code.startsWith('22') || code === '54001');
  });
}

function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // Stored credentials that cannot be opened are a state of the resource, not a server fault: a 409
  // that says what to do, on every route that needs them (a 5xx would make an ERP or gateway redeliver for ever).
  if (err instanceof UnknownCredentialKeyError) return new ApiError(409, 'credentials_key_unavailable', err.message);
  if (err instanceof CredentialDecryptionError) {
    return new ApiError(409, 'credentials_undecryptable', `${err.message}; re-enter the credentials`);
  }
  // A stored mapping that no longer compiles (refused since it was saved) is the integration's state: the tenant fixes it.
  if (err instanceof MappingCompileError) return new ApiError(409, 'mapping_invalid', `${err.message}; save a corrected mapping`);
  const parserError = err as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', 'request body is too large');
    case 'encoding.unsupported':
      return new ApiError(415, 'unsupported_media_type', `${parserError.message ?? 'unsupported content encoding'}; use gzip, deflate, br or none`);
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_media_type', 'unsupported body encoding');
  }
  // Other failures to read the request (a body that is not the gzip its Content-Encoding claims, an
  // aborted upload, a path with broken %-encoding) are http-errors with a client status and a message
  // meant to be shown.
  const status = parserError?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && parserError.expose) {
    return new ApiError(status, 'invalid_request', `request could not be read: ${parserError.message ?? 'invalid'}`);
  }
  const down = dependencyDown(err);
  if (down) {
    return new ApiError(503, 'service_unavailable', `${down} is unavailable; retry later`, undefined, { 'Retry-After': RETRY_AFTER_SECONDS });
  }
  if (refusedValue(err)) return new ApiError(400, 'validation_failed', 'a value in the request was refused by the database (e.g. a NUL character)');
  return undefined;
}

export function errorHandler(log: { error(msg: string, fields?: object): void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = String(res.locals.requestId ?? '');
    const apiError = toApiError(err);
    if (!apiError || apiError.status >= 500) {
      // Unexpected or a dependency down: log the error (never request bodies, which may carry credentials).
      // The logger's error serializer keeps a database error's statement and code, never its parameters.
      const tenantId = (res.locals.tenant as { id?: string } | undefined)?.id;
      log.error(apiError ? apiError.message : 'unhandled error', { requestId, ...(tenantId ? { tenantId } : {}), method: req.method, path: req.path, err });
    }
    const e = apiError ?? new ApiError(500, 'internal_error', 'internal error; quote the request id when reporting');
    if (e.headers) res.set(e.headers);
    res.status(e.status).json({
      error: { code: e.code, message: e.message, requestId, ...(e.details ? { details: e.details } : {}) },
    });
  };
}

/**
 * A 409 naming the problem when the key that sealed a connection's credentials is no longer configured
 * (dropped from CREDENTIALS_KEYS before re-sealing), instead of a decryption failure deeper down.
 */
export function requireCredentialsKey(cipher: CredentialCipher, row: { id: string; credentialsKeyId: string }): void {
  if (cipher.hasKey(row.credentialsKeyId)) return;
  throw new ApiError(
    409,
    'credentials_key_unavailable',
    `the credentials of connection ${row.id} were sealed with key id "${row.credentialsKeyId}", which is not in CREDENTIALS_KEYS; ` +
      'add that key back (then run reseal-credentials) or replace the credentials with PATCH',
  );
}
