import type { ErrorRequestHandler, Response } from 'express';
import type { PaymentIntentObject, StripeErrorBody } from './objects.js';

/** Thrown by handlers; the error middleware renders it as Stripe's `{ error: {...} }`. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function invalidRequest(
  message: string,
  extra: { code?: string; param?: string; status?: number } = {},
) {
  const { status = 400, code, param } = extra;
  return new StripeApiError(status, {
    type: 'invalid_request_error',
    message,
    ...(code ? { code, doc_url: docUrl(code) } : {}),
    ...(param ? { param } : {}),
  });
}

export function resourceMissing(kind: string, id: string, param = 'id'): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, { code: 'resource_missing', param, status: 404 });
}

export function unexpectedState(intent: PaymentIntentObject, action: string): StripeApiError {
  const error = invalidRequest(
    `This PaymentIntent's ${action} could not be performed because it has a status of ${intent.status}.`,
    { code: 'payment_intent_unexpected_state' },
  );
  error.body.payment_intent = structuredClone(intent);
  return error;
}

/** The body Stripe answers with for server-side failures and rate limiting. */
export function injectedFailure(status: number): StripeApiError {
  if (status === 429) {
    // Stripe reports rate limiting as an invalid_request_error with code rate_limit.
    return invalidRequest(
      'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      {
        code: 'rate_limit',
        status,
      },
    );
  }
  return new StripeApiError(status, {
    type: 'api_error',
    message: 'An unknown error occurred while processing this request. (Injected by the Stripe emulator.)',
  });
}

export function sendStripeError(res: Response, error: StripeApiError): void {
  res.status(error.status).json({ error: error.body });
}

/** Last middleware: renders thrown StripeApiErrors, and anything else as a 500 api_error. */
export const stripeErrorHandler: ErrorRequestHandler = (err: unknown, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  if (err instanceof StripeApiError) {
    sendStripeError(res, err);
    return;
  }
  if (err instanceof SyntaxError || (err as { type?: string }).type === 'entity.too.large') {
    sendStripeError(res, invalidRequest('Invalid request body.'));
    return;
  }
  console.error('[stripe-emulator] unexpected error', err);
  sendStripeError(res, new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred.' }));
};
