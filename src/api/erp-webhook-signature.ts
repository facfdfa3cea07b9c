/**
 * The signature of an ERP webhook, checked over the raw body before anything is parsed, with the
 * connector's `webhook.signature` parts, or the platform scheme when it has none:
 * `X-Webhook-Signature: sha256=<hex HMAC-SHA256(webhookSecret, "<timestamp>.<body>")>` with
 * `X-Webhook-Timestamp` (ISO 8601 or Unix seconds) within 5 minutes (docs/erp-integrations.md).
 */
import { verifyWebhookSignature, type WebhookSignatureRule } from '../providers/declarative/webhook-signature.js';
import { WebhookSignatureError, type HeaderBag } from '../providers/types.js';
import { ApiError } from './errors.js';

/** Verifies signature and timestamp; throws a 401 that says which check failed. */
export function verifyErpWebhook(rule: WebhookSignatureRule, credentials: Record<string, string>, raw: Buffer, headers: HeaderBag, now: number): void {
  const secret = credentials[rule.secretCredential];
  if (!secret) throw new ApiError(401, 'webhook_signature_invalid', `the integration has no ${rule.secretCredential} credential`);
  try {
    verifyWebhookSignature(rule, secret, raw, headers, now);
  } catch (err) {
    if (err instanceof WebhookSignatureError) throw new ApiError(401, 'webhook_signature_invalid', err.message);
    throw err;
  }
}
