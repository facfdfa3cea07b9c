/**
 * Temporal's codec-server protocol (`POST …/encode`, `POST …/decode`, body `{ payloads: [{ metadata,
 * data }] }` in base64), so the Temporal UI and CLI can show encrypted payloads decoded.
 *
 * Authentication is operator-only, on purpose: the Temporal UI is an operator tool that spans every
 * tenant, and a payload carries no tenant binding the endpoint could check, so a tenant key that
 * decodes "only its own" would be a promise we cannot keep. Two ways in, both derived from the admin
 * token: `Authorization: Bearer <admin token>` (CLI, scripts, tests) on /codec/{encode,decode}, and a
 * capability path /codec/ui/<key>/{encode,decode} for the Temporal UI, which cannot attach a header of
 * ours; the key is an HMAC of the admin token, so it grants decoding only and rotates with the token.
 */
import { createHmac } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { adminAuth, sameSecret } from '../auth.js';
import { ApiError } from '../errors.js';
import type { RateLimiter } from '../rate-limit.js';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const codecBody = z.object({
  // Proto JSON leaves out empty lists: the Temporal CLI sends `{}` for an empty payload list.
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() }))
    .max(10_000)
    .default([]),
});
type JsonPayload = z.infer<typeof codecBody>['payloads'][number];

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  ...(data ? { data: Buffer.from(data, 'base64') } : {}),
});

const toJson = ({ metadata, data }: Payload) => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  ...(data ? { data: Buffer.from(data).toString('base64') } : {}),
});

/** The path key the Temporal UI uses (`--ui-codec-endpoint <api>/codec/ui/<key>`). */
export function codecUiKey(adminToken: string): string {
  return createHmac('sha256', adminToken).update('temporal-ui-codec').digest('base64url');
}

export function codecRouter(deps: { adminToken: string; limiter: RateLimiter; payloadCodec?: PayloadCodec; codecCorsOrigin?: string }): Router {
  const router = Router();
  const codec = deps.payloadCodec;
  if (!codec) return router;

  // The UI calls from its own origin; only that origin is allowed (no credentials: auth is not a cookie).
  const cors: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin && origin === deps.codecCorsOrigin) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Headers', 'authorization, content-type, x-namespace');
      res.set('Access-Control-Allow-Methods', 'POST');
      res.set('Access-Control-Max-Age', '600');
    }
    res.vary('Origin');
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  };
  const uiKey = codecUiKey(deps.adminToken);
  const uiAuth: RequestHandler = (req, _res, next) =>
    next(sameSecret(String(req.params.key), uiKey) ? undefined : new ApiError(401, 'unauthorized', 'codec key is not valid'));
  // Payload batches of a long history exceed the API's default JSON limit.
  const json = express.json({ limit: '8mb' });

  for (const op of ['encode', 'decode'] as const) {
    const handle: RequestHandler = async (req, res) => {
      const parsed = codecBody.safeParse(req.body);
      if (!parsed.success) throw new ApiError(400, 'validation_failed', 'body must be { payloads: [{ metadata, data }] } with base64 values');
      try {
        const out = await codec[op](parsed.data.payloads.map(fromJson));
        res.json({ payloads: out.map(toJson) });
      } catch (err) {
        if (err instanceof ValueError) {
          throw new ApiError(400, 'validation_failed', `cannot ${op} payloads: ${err.message}`);
        }
        throw err;
      }
    };
    router.options([`/codec/${op}`, `/codec/ui/:key/${op}`], cors);
    router.post(`/codec/${op}`, cors, adminAuth(deps.adminToken, deps.limiter), json, handle);
    // Guesses at the UI key count against the client address's limit, like bad admin tokens.
    router.post(`/codec/ui/:key/${op}`, cors, deps.limiter.perClientAddress(), uiAuth, json, handle);
  }
  return router;
}
