import { ApplicationFailure } from '@temporalio/common';
import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import { FailureType } from './domain/failures.js';

/** Structured logger (pino): one JSON line per event. Callers pass fields, never raw request bodies. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
  /** A logger whose every line also carries `bindings` (request id, tenant id...). */
  child(bindings: object): Logger;
}

/**
 * Keys whose values never reach a log line, at any of the first four levels of nesting (pino's
 * redaction compiles fixed paths, so the depth is bounded; deeper objects are not logged by our code).
 */
const SENSITIVE_KEYS = [
  'authorization',
  'cookie',
  'credentials',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'secret',
  'secretKey',
  'clientSecret',
  'webhookSecret',
  'signingSecret',
  'password',
  'keyHash',
  'params',
  'parameters',
  'paymentMethod',
  'payment_method',
];
export const REDACTED_PATHS = SENSITIVE_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

/**
 * Payment method tokens (Stripe-style `tok_`, `pm_`, `btok_`, `src_` ids) inside free text: a
 * gateway's error message may echo the token ("No such PaymentMethod: 'pm_...'"), and that text
 * reaches log messages, error fields and stacks, which key-based redaction cannot see.
 */
const PAYMENT_TOKEN = /\b(tok|pm|btok|src)_[A-Za-z0-9_]{3,}/g;

/** `text` with every payment method token replaced by its prefix and `[redacted]`. */
export function redactPaymentTokens(text: string): string {
  return text.replace(PAYMENT_TOKEN, '$1_[redacted]');
}

/**
 * Scrubs each finished line before it is written, so a token is caught wherever it sits (message,
 * any field at any depth, an error's message or stack). The lines are JSON or pino-pretty text;
 * tokens hold no characters that JSON escapes, so the serialized line matches as the raw value does.
 */
function scrubbing(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(redactPaymentTokens(line)) };
}

const EXPECTED_FAILURE_TYPES: ReadonlySet<string> = new Set(Object.values(FailureType));

interface DbErrorShape {
  query?: unknown;
  params?: unknown;
  code?: unknown;
  cause?: unknown;
}

/** drizzle's DrizzleQueryError (query + params) and postgres.js's PostgresError (query + parameters). */
function isDbError(e: Error & DbErrorShape): boolean {
  return e.name === 'PostgresError' || (typeof e.query === 'string' && Array.isArray(e.params));
}

/**
 * Errors as log fields. Database errors keep the statement and the error code only: their messages
 * and parameters carry tokens, customer data and key hashes. An expected failure (an
 * ApplicationFailure of a type from the domain's list) is an outcome, not a bug: no stack.
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'object' ? '[non-error object]' : String(err);
  const e = err as Error & DbErrorShape;
  const cause = depth < 4 && e.cause !== undefined ? { cause: serializeError(e.cause, depth + 1) } : {};
  if (isDbError(e)) {
    const dbCause = e.cause as DbErrorShape | undefined;
    return { type: e.constructor.name, statement: e.query, code: e.code ?? dbCause?.code };
  }
  if (err instanceof ApplicationFailure && err.type && EXPECTED_FAILURE_TYPES.has(err.type)) {
    return { type: err.type, message: err.message, nonRetryable: err.nonRetryable, ...cause };
  }
  return { type: e.name, message: e.message, stack: e.stack, ...cause };
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

export interface LoggerOptions {
  /** `pretty` for humans in development (pino-pretty), `json` (default) for everything else. */
  format?: LogFormat;
  /** Where lines go (default stdout); tests pass a stream to read them. */
  destination?: DestinationStream;
}

export function createLogger(level: LogLevel = 'info', base: object = {}, opts: LoggerOptions = {}): Logger {
  const destination =
    opts.destination ?? (opts.format === 'pretty' ? pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l' }) : pino.destination(1));
  const p = pino(
    {
      level,
      base,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    scrubbing(destination),
  );
  return wrap(p);
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };
