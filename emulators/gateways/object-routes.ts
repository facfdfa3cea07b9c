/**
 * The routes both demo gateways (AcmePay, PendingPay) give their payment objects: writes that run
 * once per idempotency key (create, and actions on a stored object) and lookups by id and by merchant
 * reference. Each gateway keeps its own paths, idempotency header, parameter names and error bodies.
 */
import type { Express, Request, Response } from 'express';
import type { z } from 'zod';
import { headerOf, IdempotencyStore } from './faults.js';

type Answer = { status: number; body: unknown };

export interface ObjectRoutesOptions<T> {
  app: Express;
  objects: Map<string, T>;
  /** The route parameter that names an object (`id` in `/v1/payments/:id`). */
  param: string;
  /** The object's key in answers (`{ payment: … }`). */
  key: string;
  idempotencyHeader: string;
  /** The gateway's answer to a body that does not parse. */
  invalid: (res: Response, issues: z.core.$ZodIssue[]) => void;
  notFound: unknown;
  /** The error body for an idempotency key reused with another request. */
  mismatch: unknown;
}

export function objectRoutes<T>(o: ObjectRoutesOptions<T>) {
  const idempotency = new IdempotencyStore();
  const idOf = (req: Request) => String(req.params[o.param]);
  const once = (req: Request, res: Response, fingerprint: unknown, process: () => Answer) =>
    idempotency.respond(res, headerOf(req, o.idempotencyHeader), fingerprint, process, o.mismatch);

  return {
    /** POST `path`: the body parsed with `schema`, then `create` once per idempotency key. */
    create<S extends z.ZodType>(path: string, schema: S, create: (body: z.infer<S>) => Answer): void {
      o.app.post(path, (req, res) => {
        const parsed = schema.safeParse(req.body);
        if (!parsed.success) return o.invalid(res, parsed.error.issues);
        once(req, res, req.body, () => create(parsed.data));
      });
    },

    /**
     * POST `path` on a stored object: the body parsed with `schema` (when given), then `act` once per
     * idempotency key; an unknown object answers the gateway's 404 (stored like any answer).
     */
    action<S extends z.ZodType>(
      path: string,
      schema: S | null,
      fingerprint: (req: Request, id: string) => unknown,
      act: (object: T, body: z.infer<S> | undefined) => Answer,
    ): void {
      o.app.post(path, (req, res) => {
        let body: z.infer<S> | undefined;
        if (schema) {
          const parsed = schema.safeParse(req.body ?? {});
          if (!parsed.success) return o.invalid(res, parsed.error.issues);
          body = parsed.data;
        }
        once(req, res, fingerprint(req, idOf(req)), () => {
          const object = o.objects.get(idOf(req));
          return object ? act(object, body) : { status: 404, body: o.notFound };
        });
      });
    },

    /** GET `path`: one stored object, or the gateway's 404. */
    lookup(path: string): void {
      o.app.get(path, (req, res) => {
        const object = o.objects.get(idOf(req));
        if (!object) return void res.status(404).json(o.notFound);
        res.json({ [o.key]: object });
      });
    },

    /** GET `path`: every stored object, or those whose merchant reference equals the `query` parameter. */
    search(path: string, query: string, referenceOf: (object: T) => string, listKey: string): void {
      o.app.get(path, (req, res) => {
        const ref = req.query[query];
        res.json({
          [listKey]: [...o.objects.values()].filter((x) => typeof ref !== 'string' || referenceOf(x) === ref),
        });
      });
    },
  };
}
