import type { RequestHandler, Response } from 'express';
import { newRequestId } from './ids.js';
import type { FormObject } from './form-params.js';
import type { RequestContext } from './store.js';

/** Typed access to what the middleware chain leaves in `res.locals`. */
export function requestContext(res: Response): RequestContext {
  const account: unknown = res.locals['account'];
  const requestId: unknown = res.locals['requestId'];
  const idempotencyKey: unknown = res.locals['idempotencyKey'];
  if (typeof account !== 'string' || typeof requestId !== 'string') {
    throw new Error('request context missing: authenticate() and stripeHeaders() must run first');
  }
  return { account, requestId, idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : null };
}

export function formParams(res: Response): FormObject {
  const params: unknown = res.locals['params'];
  return typeof params === 'object' && params !== null ? (params as FormObject) : {};
}

/**
 * Stripe's response headers: every answer carries a `Request-Id`; `Stripe-Version` echoes the
 * version the client asked for (or the emulator's default); POSTs echo their `Idempotency-Key`.
 */
export function stripeHeaders(defaultApiVersion: string): RequestHandler {
  return (req, res, next) => {
    const requestId = newRequestId();
    res.locals['requestId'] = requestId;
    res.setHeader('Request-Id', requestId);
    res.setHeader('Stripe-Version', req.header('stripe-version') ?? defaultApiVersion);
    const idempotencyKey = req.header('idempotency-key');
    if (req.method === 'POST' && idempotencyKey) {
      res.locals['idempotencyKey'] = idempotencyKey;
      res.setHeader('Idempotency-Key', idempotencyKey);
    }
    next();
  };
}

/** One received API request, for tests and the demo. */
export interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** Null when the connection was dropped before an answer. */
  status: number | null;
  fault: string | null;
  replayed: boolean;
  at: string;
  /** The API key's account (each secret key is its own account). */
  account: string | null;
  /** The decoded form parameters (absent when the request failed before they were read). */
  params: FormObject | null;
}

export function recordRequests(log: RequestRecord[]): RequestHandler {
  return (req, res, next) => {
    const at = new Date().toISOString();
    res.on('close', () => {
      const fault: unknown = res.locals['fault'];
      log.push({
        requestId: String(res.locals['requestId']),
        method: req.method,
        path: req.path,
        idempotencyKey:
          typeof res.locals['idempotencyKey'] === 'string' ? res.locals['idempotencyKey'] : null,
        status: res.writableFinished ? res.statusCode : null,
        fault: typeof fault === 'string' ? fault : null,
        replayed: res.getHeader('Idempotent-Replayed') === 'true',
        at,
        account: typeof res.locals['account'] === 'string' ? res.locals['account'] : null,
        params: (res.locals['params'] as FormObject | undefined) ?? null,
      });
    });
    next();
  };
}
