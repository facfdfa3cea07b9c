/**
 * Plumbing shared by the gateway emulators: listening on 127.0.0.1, fault injection (as in-process
 * controls and as HTTP endpoints under /_emulator), idempotent replay and per-reference charge
 * counters. Each emulator only adds its own wire format on top.
 */
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:54321 */
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0 = any free port). */
export async function listenLocal(app: Express, port = 0): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, '127.0.0.1', (err?: Error) => {
      if (err) return reject(err);
      const { port: actual } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${actual}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface FaultOptions {
  /** Only requests whose path starts with this prefix are affected (default: every API request). */
  path?: string;
  /** A Retry-After header sent with the failures (seconds or an HTTP-date). */
  retryAfter?: string;
}

/** Fault injection controls; every emulator exposes these. */
export interface FaultControls {
  /** The next `count` matching requests fail with `status` before being processed. */
  failNext(count: number, status: number, opts?: FaultOptions): void;
  /** The next `count` matching requests are processed, then the connection is dropped (ambiguous). */
  dropNext(count: number, opts?: FaultOptions): void;
  /**
   * The next matching request is processed, then the gateway freezes for `ms`: that answer and every
   * request arriving meanwhile (status lookups included) are held until the freeze ends, so clients
   * time out although the charge was recorded.
   */
  freezeAfterNext(ms: number, opts?: FaultOptions): void;
  /**
   * Hanging (true): every matching request is accepted and never answered, as a gateway that stops
   * responding mid-call; /health still answers. Off again: the held connections are closed unanswered.
   */
  setHanging(on: boolean, opts?: FaultOptions): void;
  /** Each request fails with `status` (default 503) with probability `rate` (0..1), before processing. */
  setFailureRate(rate: number, status?: number): void;
  /** Down: /health and every API request answer 503. */
  setHealthy(up: boolean): void;
  /** Clears every injected fault and marks the emulator healthy. */
  resetFaults(): void;
  /** Successful-or-not charges created per merchant reference (exactly-once assertions). */
  chargeCount(merchantReference: string): number;
  /** Every API request received (faulted ones included), oldest first, with its arrival time. */
  requestLog(): { method: string; path: string; at: number }[];
}

interface QueuedFault {
  remaining: number;
  status?: number;
  path?: string;
  retryAfter?: string;
}

const countSchema = z.coerce.number().int().min(1).default(1);
const failNextBody = z.object({
  count: countSchema,
  status: z.coerce.number().int().min(400).max(599).default(503),
  path: z.string().optional(),
  retryAfter: z.string().optional(),
});
const dropNextBody = z.object({ count: countSchema, path: z.string().optional() });
const failureRateBody = z.object({
  rate: z.coerce.number().min(0).max(1),
  status: z.coerce.number().int().min(400).max(599).optional(),
});
const healthBody = z.object({ up: z.boolean() });
const freezeBody = z.object({ ms: z.coerce.number().int().min(1).max(600_000), path: z.string().optional() });
const hangBody = z.object({ on: z.boolean(), path: z.string().optional() });

export interface FaultInjector {
  controls: FaultControls;
  /** Records a created charge for a merchant reference. */
  recordCharge(merchantReference: string): void;
  /** Mount before the API routes: applies health, failures and drops. */
  middleware(req: Request, res: Response, next: NextFunction): void;
  /** Mount at /_emulator: HTTP versions of the controls. */
  router: express.Router;
  isHealthy(): boolean;
}

/**
 * `errorBody(status)` renders a failure in the emulated gateway's own error format.
 * `/health` is exempt from failures and drops but reports down when unhealthy.
 */
export function createFaultInjector(errorBody: (status: number) => unknown): FaultInjector {
  let healthy = true;
  let failureRate = 0;
  let failureRateStatus = 503;
  let failures: QueuedFault[] = [];
  let drops: QueuedFault[] = [];
  let freezes: (QueuedFault & { ms: number })[] = [];
  let frozenUntil = 0;
  let hanging: { path?: string } | undefined;
  const held = new Set<Request>();
  const charges = new Map<string, number>();
  const log: { method: string; path: string; at: number }[] = [];

  const take = <T extends QueuedFault>(queue: T[], path: string): T | undefined => {
    const fault = queue.find((f) => f.remaining > 0 && (!f.path || path.startsWith(f.path)));
    if (fault) fault.remaining -= 1;
    return fault;
  };

  const controls: FaultControls = {
    failNext: (count, status, opts = {}) =>
      void failures.push({
        remaining: count,
        status,
        path: opts.path,
        ...(opts.retryAfter ? { retryAfter: opts.retryAfter } : {}),
      }),
    dropNext: (count, opts = {}) => void drops.push({ remaining: count, path: opts.path }),
    freezeAfterNext: (ms, opts = {}) => void freezes.push({ remaining: 1, ms, path: opts.path }),
    setFailureRate: (rate, status = 503) => {
      failureRate = Math.min(Math.max(rate, 0), 1);
      failureRateStatus = status;
    },
    setHanging: (on, opts = {}) => {
      hanging = on ? { path: opts.path } : undefined;
      if (on) return;
      for (const req of held) req.socket.destroy();
      held.clear();
    },
    setHealthy: (up) => {
      healthy = up;
    },
    resetFaults: () => {
      controls.setHanging(false);
      healthy = true;
      failureRate = 0;
      failures = [];
      drops = [];
      freezes = [];
      frozenUntil = 0;
      log.length = 0;
    },
    chargeCount: (ref) => charges.get(ref) ?? 0,
    requestLog: () => log.map((r) => ({ ...r })),
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (req.path.startsWith('/_emulator')) return next();
    const frozenFor = frozenUntil - Date.now();
    if (frozenFor > 0) {
      // Frozen: the request waits (unanswered) until the gateway comes back, then is served normally.
      setTimeout(() => middleware(req, res, next), frozenFor);
      return;
    }
    log.push({ method: req.method, path: req.path, at: Date.now() });
    if (!healthy) {
      res.status(503).json(errorBody(503));
      return;
    }
    if (req.path === '/health') return next();
    if (hanging && (!hanging.path || req.path.startsWith(hanging.path))) {
      held.add(req);
      req.socket.once('close', () => held.delete(req));
      return;
    }
    const failure = take(failures, req.path);
    if (failure) {
      if (failure.retryAfter) res.set('Retry-After', failure.retryAfter);
      res.status(failure.status ?? 503).json(errorBody(failure.status ?? 503));
      return;
    }
    if (failureRate > 0 && Math.random() < failureRate) {
      res.status(failureRateStatus).json(errorBody(failureRateStatus));
      return;
    }
    const freeze = take(freezes, req.path);
    if (freeze) {
      frozenUntil = Date.now() + freeze.ms;
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      // The handler runs now (the charge is recorded); its answer leaves only when the freeze ends.
      res.end = function heldUntilThaw(this: Response, ...args: unknown[]) {
        setTimeout(() => end(...args), Math.max(frozenUntil - Date.now(), 0));
        return this;
      } as Response['end'];
    }
    if (take(drops, req.path)) {
      // Let the handler do its work, then cut the connection instead of answering.
      res.end = function dropConnection(this: Response) {
        req.socket.destroy();
        return this;
      } as Response['end'];
    }
    next();
  };

  const router = express.Router();
  router.use(express.json());
  const parse = <T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined => {
    const result = schema.safeParse(req.body ?? {});
    if (result.success) return result.data;
    res.status(400).json({ error: 'invalid_control_request', issues: result.error.issues });
    return undefined;
  };
  router.post('/fail-next', (req, res) => {
    const body = parse(failNextBody, req, res);
    if (!body) return;
    controls.failNext(body.count, body.status, {
      path: body.path,
      ...(body.retryAfter ? { retryAfter: body.retryAfter } : {}),
    });
    res.json({ ok: true });
  });
  router.post('/drop-next', (req, res) => {
    const body = parse(dropNextBody, req, res);
    if (!body) return;
    controls.dropNext(body.count, { path: body.path });
    res.json({ ok: true });
  });
  router.post('/freeze-after-next', (req, res) => {
    const body = parse(freezeBody, req, res);
    if (!body) return;
    controls.freezeAfterNext(body.ms, { path: body.path });
    res.json({ ok: true });
  });
  router.post('/hang', (req, res) => {
    const body = parse(hangBody, req, res);
    if (!body) return;
    controls.setHanging(body.on, { path: body.path });
    res.json({ ok: true });
  });
  router.post('/failure-rate', (req, res) => {
    const body = parse(failureRateBody, req, res);
    if (!body) return;
    controls.setFailureRate(body.rate, body.status);
    res.json({ ok: true });
  });
  router.post('/health', (req, res) => {
    const body = parse(healthBody, req, res);
    if (!body) return;
    controls.setHealthy(body.up);
    res.json({ ok: true });
  });
  router.post('/reset', (_req, res) => {
    controls.resetFaults();
    res.json({ ok: true });
  });
  router.get('/charges', (req, res) => {
    const ref = typeof req.query['merchant_reference'] === 'string' ? req.query['merchant_reference'] : '';
    res.json({ merchant_reference: ref, count: controls.chargeCount(ref) });
  });
  router.get('/state', (_req, res) => {
    res.json({
      healthy,
      failureRate,
      pendingFailures: failures.reduce((n, f) => n + f.remaining, 0),
      pendingDrops: drops.reduce((n, f) => n + f.remaining, 0),
      frozenForMs: Math.max(frozenUntil - Date.now(), 0),
      hanging: hanging !== undefined,
      heldRequests: held.size,
      charges: Object.fromEntries(charges),
    });
  });

  return {
    controls,
    recordCharge: (ref) => void charges.set(ref, (charges.get(ref) ?? 0) + 1),
    middleware,
    router,
    isHealthy: () => healthy,
  };
}

interface StoredResponse {
  fingerprint: string;
  status: number;
  body: unknown;
}

/**
 * Idempotent replay: the first request with a key is processed and its answer stored; later
 * requests with the same key get the stored answer (never a second charge). A different payload
 * under the same key is refused, as real gateways do.
 */
export class IdempotencyStore {
  private readonly responses = new Map<string, StoredResponse>();

  respond(
    res: Response,
    key: string | undefined,
    payload: unknown,
    process: () => { status: number; body: unknown },
    mismatchBody: unknown,
  ): void {
    const fingerprint = JSON.stringify(payload);
    const stored = key ? this.responses.get(key) : undefined;
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        res.status(422).json(mismatchBody);
        return;
      }
      res.status(stored.status).set('Idempotent-Replayed', 'true').json(stored.body);
      return;
    }
    const result = process();
    if (key) this.responses.set(key, { fingerprint, ...result });
    res.status(result.status).json(result.body);
  }

  clear(): void {
    this.responses.clear();
  }
}

/** Header value as one string (first of repeated headers). */
export function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
