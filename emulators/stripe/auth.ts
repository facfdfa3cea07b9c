import type { RequestHandler } from 'express';
import { invalidRequest, sendStripeError } from './stripe-errors.js';

/** Reads the secret key from `Authorization: Bearer sk_...` (or Basic with the key as user name). */
function apiKeyFrom(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1] ?? null;
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic)
    return (
      Buffer.from(basic[1] ?? '', 'base64')
        .toString('utf8')
        .split(':')[0] || null
    );
  return null;
}

function masked(key: string): string {
  const prefix = /^(sk|rk)_(test|live)_/.exec(key)?.[0] ?? '';
  return `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

/**
 * Stripe's authentication: a missing or unknown key is a 401 invalid_request_error. With no
 * configured keys, any `sk_test_...` key is accepted. The key becomes `res.locals.account`.
 */
export function authenticate(apiKeys: readonly string[] | undefined): RequestHandler {
  const allowed = apiKeys ? new Set(apiKeys) : null;
  return (req, res, next) => {
    const key = apiKeyFrom(req.header('authorization'));
    if (!key) {
      sendStripeError(
        res,
        invalidRequest(
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
          { status: 401 },
        ),
      );
      return;
    }
    const valid = allowed ? allowed.has(key) : /^sk_test_\w+$/.test(key);
    if (!valid) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Stripe"');
      sendStripeError(res, invalidRequest(`Invalid API Key provided: ${masked(key)}`, { status: 401 }));
      return;
    }
    res.locals['account'] = key;
    next();
  };
}
