import type { RequestHandler } from 'express';
import type { FormValue } from './form-params.js';
import { formParams } from './request-context.js';
import { StripeApiError, sendStripeError } from './stripe-errors.js';

export interface StoredResponse {
  fingerprint: string;
  state: 'in_progress' | 'done';
  status: number;
  body: unknown;
  requestId: string;
}

/** Parameters compared as values, independent of key order. */
function canonical(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] ?? '')}`).join(',')}}`;
}

/**
 * Stripe's idempotent requests, per API key: a POST with a seen `Idempotency-Key` and the same
 * endpoint and parameters gets the stored response again (`Idempotent-Replayed: true`); different
 * parameters are a 400 idempotency_error; a concurrent duplicate is a 409. Results are stored once
 * the endpoint ran: successes, card errors and server errors, not parameter validation failures.
 */
export class IdempotencyStore {
  private readonly responses = new Map<string, StoredResponse>();
  /** Called when a response is stored (see `StripeEmulatorOptions.stateFile`). */
  onChange: () => void = () => {};

  clear(): void {
    this.responses.clear();
  }

  /** The stored responses (requests still running are left out: they are dropped if the process stops). */
  entries(): [string, StoredResponse][] {
    return [...this.responses].filter(([, r]) => r.state === 'done');
  }

  restore(entries: [string, StoredResponse][]): void {
    for (const [slot, response] of entries) this.responses.set(slot, response);
  }

  middleware(): RequestHandler {
    return (req, res, next) => {
      const key = req.method === 'POST' ? req.header('idempotency-key') : undefined;
      if (!key) {
        next();
        return;
      }
      const slot = `${String(res.locals['account'])}\u0000${key}`;
      const fingerprint = `${req.method} ${req.path} ${canonical(formParams(res))}`;
      const stored = this.responses.get(slot);
      if (stored) {
        if (stored.fingerprint !== fingerprint) {
          sendStripeError(
            res,
            new StripeApiError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          );
        } else if (stored.state === 'in_progress') {
          sendStripeError(
            res,
            new StripeApiError(409, {
              type: 'idempotency_error',
              message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
            }),
          );
        } else {
          res.setHeader('Idempotent-Replayed', 'true');
          res.setHeader('Original-Request', stored.requestId);
          res.status(stored.status).json(stored.body);
        }
        return;
      }
      const entry: StoredResponse = {
        fingerprint,
        state: 'in_progress',
        status: 0,
        body: null,
        requestId: String(res.locals['requestId']),
      };
      this.responses.set(slot, entry);
      const send = res.json.bind(res);
      res.json = ((body: unknown) => {
        const status = res.statusCode;
        if (status < 400 || status === 402 || status >= 500) {
          Object.assign(entry, { state: 'done', status, body: structuredClone(body) });
          this.onChange();
        } else {
          this.responses.delete(slot);
        }
        res.json = send;
        return send(body);
      }) as typeof res.json;
      res.on('close', () => {
        if (entry.state === 'in_progress') this.responses.delete(slot);
      });
      next();
    };
  }
}
