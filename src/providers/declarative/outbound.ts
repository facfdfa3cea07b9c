/**
 * One connection's outbound calls as both declarative targets make them (payment gateways and
 * customer-sync targets): auth applied, answers classified by the definition's error table, secrets
 * cut out of every message. The HTTP plumbing underneath is http.ts.
 */
import type { ErrorClass } from '../../domain/failures.js';
import { retryAfterOf } from '../retry-after.js';
import { GatewayError, InvalidCredentialsError, type ConnectionContext } from '../types.js';
import type { AuthApplier } from './outbound-auth.js';
import { classifyHttpFailure } from './classify.js';
import type { ProviderDefinition } from './definition.js';
import {
  readString,
  sendRequest,
  TransportError,
  type FetchLike,
  type IncomingResponse,
  type OutgoingRequest,
} from './http.js';

/** What one connection's calls need: built by the factory (credentials checked, base URL rendered and policy-checked, auth). */
export interface ConnectionRuntime {
  connection: ConnectionContext;
  /** Rendered, without a trailing slash. */
  baseUrl: string;
  auth: AuthApplier;
  fetch: FetchLike;
  timeoutMs: number;
  now: () => number;
}

/** What redaction needs to know of a connection: its definition's declared secrets, its credentials and its auth. */
export interface SecretSource {
  definition: { credentials: readonly { name: string; secret: boolean }[] };
  credentials: Record<string, string | undefined>;
  auth: AuthApplier;
}

/**
 * Cuts every secret the connection holds (declared secret credentials and whatever the auth applier
 * sent) out of a message: no credential, token or auth header value ever reaches an error or a log.
 * Payment gateways and customer-sync targets share it.
 */
export function redactSecrets(source: SecretSource, message: string): string {
  const declared = source.definition.credentials
    .filter((c) => c.secret)
    .map((c) => source.credentials[c.name]);
  const secrets = [...declared, ...source.auth.secrets()].filter(
    (s): s is string => s !== undefined && s.length >= 4,
  );
  return secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), message);
}

/** One connection's outbound calls, as payment gateways and customer-sync targets make them. */
export interface OutboundConnection extends SecretSource {
  definition: SecretSource['definition'] & Pick<ProviderDefinition, 'name' | 'errors'>;
  fetch: FetchLike;
  timeoutMs: number;
  now: () => number;
}

export type OutboundErrorArgs = [
  classification: ErrorClass,
  code: string,
  message: string,
  httpStatus?: number,
  retryAfterMs?: number,
];

/** A GatewayError whose message names the definition and carries no secret. */
export function outboundError(
  conn: OutboundConnection,
  ...[classification, code, message, httpStatus, retryAfterMs]: OutboundErrorArgs
): GatewayError {
  return new GatewayError(
    classification,
    code,
    redactSecrets(conn, `${conn.definition.name} ${message}`),
    httpStatus,
    retryAfterMs,
  );
}

/**
 * Sends a request with the connection's auth. A transport failure becomes a GatewayError, retryable
 * when the request provably never left and ambiguous when it may have been processed. A 401 means
 * the request was not processed, so with refreshable auth it is sent once more with fresh credentials.
 * `where` names the call in messages (`create (POST /contacts)`); `refreshOn` says which other
 * answers mean "the token or session expired" (an `onError` rule with `action: refresh_auth`).
 */
export async function sendAuthorized(
  conn: OutboundConnection,
  request: OutgoingRequest,
  where: string,
  refreshOn?: (res: IncomingResponse) => boolean,
): Promise<IncomingResponse> {
  const attempt = async (refresh: boolean): Promise<IncomingResponse> => {
    const headers = { ...request.headers };
    const url = new URL(request.url);
    await conn.auth.apply(headers, refresh, url);
    try {
      return await sendRequest(conn.fetch, { ...request, headers, url }, conn.timeoutMs);
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      throw outboundError(
        conn,
        err.sent === false ? 'retryable' : 'ambiguous',
        err.code,
        `${where}: ${err.message}`,
      );
    }
  };
  const first = await attempt(false);
  if ((first.status === 401 || refreshOn?.(first)) && conn.auth.refreshable) return attempt(true);
  return first;
}

/**
 * The error of an answer that is not a success, classified by the definition's error table (then
 * the defaults in classify.ts): InvalidCredentialsError, or a GatewayError with the provider's code
 * and, when retryable, the wait its Retry-After asks for.
 */
export function httpFailure(
  conn: OutboundConnection,
  res: IncomingResponse,
  where: string,
): InvalidCredentialsError | GatewayError {
  const { codePath, messagePath, rules } = conn.definition.errors;
  const code = readString(res.body, codePath);
  const message = readString(res.body, messagePath);
  const detail = `HTTP ${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  const classification = classifyHttpFailure(rules, res.status, code);
  if (classification === 'invalid_credentials') {
    return new InvalidCredentialsError(
      redactSecrets(conn, `${conn.definition.name}: credentials refused on ${where}: ${detail}`),
    );
  }
  return outboundError(
    conn,
    classification,
    code ?? `http_${res.status}`,
    `${where} failed: ${detail}`,
    res.status,
    classification === 'retryable'
      ? retryAfterOf(res.status, (h) => res.headers.get(h), conn.now())
      : undefined,
  );
}
