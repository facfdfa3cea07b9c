/**
 * "Strata CRM": an emulated REST CRM written from its own (imagined) API reference, not from ours, for
 * issue #18's "a system nobody tuned for": nested records, OAuth2 with rotating refresh tokens, and
 * webhooks that carry only ids (the receiver fetches the record). Its definition is
 * test/fixtures/providers/stratacrm.yaml.
 *
 * API reference (v3):
 * - Auth: `POST /oauth/token` (form) with `grant_type=refresh_token&refresh_token=...&client_id=...
 *   &client_secret=...` → `{"access_token", "token_type": "Bearer", "expires_in": 3600, "refresh_token"}`.
 *   The refresh token ROTATES: every grant answers a new one and the old one is dead (400
 *   `{"error": "invalid_grant"}`). `/v3` wants `Authorization: Bearer <access_token>`; an unknown or
 *   expired token is 401 `{"error": {"type": "invalid_token"}}`.
 * - A person: `{ id, names: { given, family, display }, contact_points: { emails: [{value, primary}],
 *   phones: [{number, kind}] }, postal: { lines: [..], locality, postal_code, region, country_code },
 *   attributes: { notes, labels: {k: v} }, references: { external_id }, created_at, updated_at }`.
 * - `POST /v3/people` with `{"person": {...}}` → 201 `{"person": {...}}`.
 * - `GET /v3/people/:id` → `{"person": {...}}`; unknown → 404, deleted → 410 `{"error": {"type": "gone"}}`.
 * - `PATCH /v3/people/:id` with `{"person": {...}}`: a JSON Merge Patch (RFC 7396) of the record
 *   (objects merged key by key, arrays replaced whole, null removes) → `{"person": {...}}`.
 * - `DELETE /v3/people/:id` → 204; the person answers 410 afterwards and leaves the list.
 * - `GET /v3/people?limit=50` → `{"people": [...], "paging": {"next": "<absolute URL of the next page>"
 *   | null}}`, ordered by id; follow `paging.next` as it is (it carries an opaque `after`).
 * - Webhooks (`subscribe`): each change is POSTed as `{"event_id", "event": "person.created|person.changed|
 *   person.deleted", "person_id", "sent_at"}`, ONE person per delivery and no record: fetch it. Signed
 *   with three headers, `Strata-Delivery: <delivery id>`, `Strata-Timestamp: <unix seconds>` and
 *   `Strata-Signature: <hex HMAC-SHA512 of "<delivery>.<timestamp>.<body>">`; non-2xx answers are retried.
 * - Errors: `{"error": {"type", "detail"}}`; 429 `rate_limited` (with or without `Retry-After`).
 *
 * Faults: `faults` (429 with or without Retry-After, 500 bursts; emulators/gateways/faults.ts),
 * `expireAccessTokens()` (every access token issued so far answers 401 from now on),
 * `webhookFaults` (duplicate and out-of-order deliveries, lost ones).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createFaultInjector, listenLocal, type FaultControls, type RunningServer } from '../gateways/faults.js';

export interface StrataPerson {
  id: string;
  names: { given: string | null; family: string | null; display: string | null };
  contact_points: { emails: { value: string; primary?: boolean }[]; phones: { number: string; kind?: string }[] };
  postal: { lines: string[]; locality: string | null; postal_code: string | null; region: string | null; country_code: string | null };
  attributes: { notes: string | null; labels: Record<string, string> };
  references: { external_id: string | null };
  created_at: string;
  updated_at: string;
}

export interface StrataDelivery {
  deliveryId: string;
  event: string;
  personId: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed' | 'lost';
}

/** Switchable webhook faults; each applies to deliveries made after it is set. */
export interface StrataWebhookFaults {
  /** Every delivery is sent twice (the same delivery id and body). */
  duplicate?: boolean;
  /** Deliveries are held and sent newest first once this many have piled up. */
  reorderBatch?: number;
  /** The next this many deliveries are never sent. */
  lose?: number;
}

interface Client {
  clientSecret: string;
  refreshToken: string;
  people: Map<string, StrataPerson>;
  deleted: Set<string>;
  webhooks: { url: string; secret: string }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const nowIso = () => new Date().toISOString();
const WRITABLE = ['names', 'contact_points', 'postal', 'attributes', 'references'] as const;

/** RFC 7396: objects merge key by key, null removes, anything else (arrays too) replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Puts a merged record back in its documented shape (removed keys become null / empty). */
function normalise(p: Record<string, unknown>): StrataPerson {
  const obj = (v: unknown) => (isObject(v) ? v : {});
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const names = obj(p['names']);
  const cp = obj(p['contact_points']);
  const postal = obj(p['postal']);
  const attributes = obj(p['attributes']);
  return {
    id: String(p['id']),
    names: { given: str(names['given']), family: str(names['family']), display: str(names['display']) },
    contact_points: {
      emails: Array.isArray(cp['emails']) ? (cp['emails'] as StrataPerson['contact_points']['emails']) : [],
      phones: Array.isArray(cp['phones']) ? (cp['phones'] as StrataPerson['contact_points']['phones']) : [],
    },
    postal: {
      lines: Array.isArray(postal['lines']) ? (postal['lines'] as unknown[]).filter((l): l is string => typeof l === 'string') : [],
      locality: str(postal['locality']),
      postal_code: str(postal['postal_code']),
      region: str(postal['region']),
      country_code: str(postal['country_code']),
    },
    attributes: {
      notes: str(attributes['notes']),
      labels: Object.fromEntries(Object.entries(obj(attributes['labels'])).map(([k, v]) => [k, String(v)])),
    },
    references: { external_id: str(obj(p['references'])['external_id']) },
    created_at: String(p['created_at']),
    updated_at: String(p['updated_at']),
  };
}

/** Checks a `person` body: only writable sections, each an object; emails and phones well formed. */
function invalidPerson(body: unknown): string | null {
  const p = isObject(body) ? body['person'] : undefined;
  if (!isObject(p)) return 'the body must be {"person": {...}}';
  for (const [key, value] of Object.entries(p)) {
    if (!(WRITABLE as readonly string[]).includes(key)) return `person.${key} cannot be written`;
    if (value !== null && !isObject(value)) return `person.${key} must be an object`;
  }
  const cp = isObject(p['contact_points']) ? p['contact_points'] : {};
  for (const [list, key] of [['emails', 'value'], ['phones', 'number']] as const) {
    const items = cp[list];
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items) || items.some((i) => !isObject(i) || typeof i[key] !== 'string')) return `person.contact_points.${list} must be a list of {${key}: string}`;
  }
  return null;
}

/** Signs a delivery as Strata does: hex HMAC-SHA512 of "<delivery>.<timestamp>.<body>". */
export function signStrataWebhook(deliveryId: string, timestamp: number, body: string, secret: string): string {
  return createHmac('sha512', secret).update(`${deliveryId}.${timestamp}.${body}`, 'utf8').digest('hex');
}

export class StrataCrmEmulator {
  private readonly clients = new Map<string, Client>();
  private readonly tokens = new Map<string, { clientId: string; expired: boolean }>();
  private readonly grants: { clientId: string; refreshToken: string; ok: boolean }[] = [];
  private readonly deliveryLog: StrataDelivery[] = [];
  private readonly faultInjector = createFaultInjector((status) => ({
    error: { type: status === 429 ? 'rate_limited' : 'server_error', detail: `injected ${status}` },
  }));
  private hookFaults: StrataWebhookFaults = {};
  private held: (() => Promise<void>)[] = [];
  private server?: RunningServer;
  private seq = 0;
  private readonly closing = new AbortController();

  constructor(private readonly opts: { port?: number; retryBaseMs?: number; maxAttempts?: number } = {}) {}

  /** 429 (with or without Retry-After), 500 bursts, failure rates: the shared fault controls. */
  get faults(): FaultControls {
    return this.faultInjector.controls;
  }

  get url(): string {
    if (!this.server) throw new Error('Strata CRM emulator not started');
    return this.server.url;
  }

  async start(): Promise<string> {
    const app = express();
    app.use('/_emulator', this.faultInjector.router);
    app.use(express.json({ limit: '1mb' }));
    app.use(express.urlencoded({ extended: false, limit: '16kb' }));
    app.use(this.faultInjector.middleware);
    app.post('/oauth/token', (req, res) => this.token(req, res));
    app.use('/v3', (req, res, next) => this.authenticate(req, res, next));
    app.post('/v3/people', (req, res) => this.create(req, res));
    app.get('/v3/people', (req, res) => this.list(req, res));
    app.get('/v3/people/:id', (req, res) => {
      const p = this.found(req, res);
      if (p) res.json({ person: p });
    });
    app.patch('/v3/people/:id', (req, res) => this.update(req, res));
    app.delete('/v3/people/:id', (req, res) => this.remove(req, res));
    app.use((req: Request, res: Response) => this.fail(res, 404, 'not_found', `no route ${req.method} ${req.path}`));
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.held.length = 0;
    await this.server?.close();
  }

  /** Registers an OAuth client with its first refresh token. */
  addClient(): { clientId: string; clientSecret: string; refreshToken: string } {
    const clientId = `cli_${randomBytes(6).toString('hex')}`;
    const client: Client = {
      clientSecret: `cs_${randomBytes(12).toString('hex')}`,
      refreshToken: `rt_${randomBytes(12).toString('hex')}`,
      people: new Map(),
      deleted: new Set(),
      webhooks: [],
    };
    this.clients.set(clientId, client);
    return { clientId, clientSecret: client.clientSecret, refreshToken: client.refreshToken };
  }

  /** A fresh access token for the client (what a person using Strata's console gets). */
  accessToken(clientId: string): string {
    this.clientOf(clientId);
    const token = `at_${randomBytes(12).toString('hex')}`;
    this.tokens.set(token, { clientId, expired: false });
    return token;
  }

  /** The client's current (live) refresh token. */
  refreshTokenOf(clientId: string): string {
    return this.clientOf(clientId).refreshToken;
  }

  /** Every refresh-token grant asked for, in order (refused ones too). */
  tokenGrants(clientId: string): { refreshToken: string; ok: boolean }[] {
    return this.grants.filter((g) => g.clientId === clientId).map(({ refreshToken, ok }) => ({ refreshToken, ok }));
  }

  /** Every access token issued so far expires now: the next call with one answers 401. */
  expireAccessTokens(): void {
    for (const t of this.tokens.values()) t.expired = true;
  }

  /** Points the client's webhooks at `url`; returns the signing secret. */
  subscribe(clientId: string, url: string): string {
    const secret = `ssec_${randomBytes(16).toString('hex')}`;
    this.clientOf(clientId).webhooks.push({ url, secret });
    return secret;
  }

  webhookFaults(faults: StrataWebhookFaults): void {
    this.hookFaults = { ...faults };
    if (!faults.reorderBatch) this.flushHeld();
  }

  person(clientId: string, id: string): StrataPerson | undefined {
    const p = this.clients.get(clientId)?.people.get(id);
    return p ? structuredClone(p) : undefined;
  }

  people(clientId: string): StrataPerson[] {
    return [...(this.clients.get(clientId)?.people.values() ?? [])].map((p) => structuredClone(p));
  }

  deliveries(): StrataDelivery[] {
    return this.deliveryLog.map((d) => ({ ...d }));
  }

  /** Every request received (faulted ones included), oldest first. */
  requestLog(): { method: string; path: string; at: number }[] {
    return this.faultInjector.controls.requestLog();
  }

  // --- API ---

  private clientOf(clientId: string): Client {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`no Strata client ${clientId}`);
    return client;
  }

  private client(res: Response): Client {
    return res.locals['client'] as Client;
  }

  private fail(res: Response, status: number, type: string, detail: string): void {
    res.status(status).json({ error: { type, detail } });
  }

  private token(req: Request, res: Response): void {
    const form = (isObject(req.body) ? req.body : {}) as Record<string, unknown>;
    const clientId = String(form['client_id'] ?? '');
    const client = this.clients.get(clientId);
    if (!client || form['client_secret'] !== client.clientSecret) {
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    if (form['grant_type'] !== 'refresh_token') {
      res.status(400).json({ error: 'unsupported_grant_type' });
      return;
    }
    const ok = form['refresh_token'] === client.refreshToken;
    this.grants.push({ clientId, refreshToken: String(form['refresh_token'] ?? ''), ok });
    if (!ok) {
      res.status(400).json({ error: 'invalid_grant', error_description: 'refresh token unknown or already used' });
      return;
    }
    client.refreshToken = `rt_${randomBytes(12).toString('hex')}`;
    res.json({ access_token: this.accessToken(clientId), token_type: 'Bearer', expires_in: 3600, refresh_token: client.refreshToken });
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const token = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1] ?? '';
    const held = this.tokens.get(token);
    if (!held || held.expired) {
      res.status(401).json({ error: { type: 'invalid_token', detail: held ? 'the access token expired' : 'send Authorization: Bearer <access token>' } });
      return;
    }
    res.locals['client'] = this.clientOf(held.clientId);
    next();
  }

  private create(req: Request, res: Response): void {
    const problem = invalidPerson(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    const now = nowIso();
    const id = `p_${(++this.seq).toString().padStart(8, '0')}${randomBytes(3).toString('hex')}`;
    const person = normalise(mergePatch({ id, created_at: now, updated_at: now }, (req.body as { person: unknown }).person) as Record<string, unknown>);
    const client = this.client(res);
    client.people.set(id, person);
    this.emit(client, 'person.created', id);
    res.status(201).json({ person });
  }

  private found(req: Request, res: Response): StrataPerson | undefined {
    const id = String(req.params['id']);
    const client = this.client(res);
    const person = client.people.get(id);
    if (!person) this.fail(res, client.deleted.has(id) ? 410 : 404, client.deleted.has(id) ? 'gone' : 'not_found', `person ${id}`);
    return person;
  }

  private update(req: Request, res: Response): void {
    const current = this.found(req, res);
    if (!current) return;
    const problem = invalidPerson(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    const merged = mergePatch(current, (req.body as { person: unknown }).person) as Record<string, unknown>;
    const person = normalise({ ...merged, id: current.id, created_at: current.created_at, updated_at: nowIso() });
    const client = this.client(res);
    client.people.set(person.id, person);
    this.emit(client, 'person.changed', person.id);
    res.json({ person });
  }

  private remove(req: Request, res: Response): void {
    const person = this.found(req, res);
    if (!person) return;
    const client = this.client(res);
    client.people.delete(person.id);
    client.deleted.add(person.id);
    this.emit(client, 'person.deleted', person.id);
    res.status(204).end();
  }

  private list(req: Request, res: Response): void {
    const limit = Math.min(Math.max(Number(req.query['limit'] ?? 50) || 50, 1), 100);
    const after = typeof req.query['after'] === 'string' ? Buffer.from(req.query['after'], 'base64url').toString('utf8') : '';
    const all = [...this.client(res).people.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = all.filter((p) => p.id > after).slice(0, limit);
    const last = page.at(-1);
    const more = last !== undefined && all.some((p) => p.id > last.id);
    const next = more ? `${this.url}/v3/people?limit=${limit}&after=${Buffer.from(last.id).toString('base64url')}` : null;
    res.json({ people: page, paging: { next } });
  }

  // --- webhooks ---

  private emit(client: Client, event: string, personId: string): void {
    for (const hook of client.webhooks) {
      const deliveryId = `dlv_${++this.seq}`;
      const body = JSON.stringify({ event_id: `ev_${this.seq}`, event, person_id: personId, sent_at: nowIso() });
      const delivery: StrataDelivery = { deliveryId, event, personId, attempts: 0, state: 'pending' };
      this.deliveryLog.push(delivery);
      if (this.hookFaults.lose) {
        this.hookFaults.lose -= 1;
        delivery.state = 'lost';
        continue;
      }
      const copies = this.hookFaults.duplicate ? 2 : 1;
      const send = async () => {
        for (let i = 0; i < copies; i++) await this.deliver(delivery, hook, body);
      };
      if (this.hookFaults.reorderBatch) {
        this.held.push(send);
        if (this.held.length >= this.hookFaults.reorderBatch) this.flushHeld();
      } else void send();
    }
  }

  /** Sends the held deliveries one after the other, newest first. */
  private flushHeld(): void {
    const batch = this.held.splice(0).reverse();
    void (async () => {
      for (const send of batch) await send();
    })();
  }

  private async deliver(delivery: StrataDelivery, hook: { url: string; secret: string }, body: string): Promise<void> {
    const signal = this.closing.signal;
    const maxAttempts = this.opts.maxAttempts ?? 4;
    for (let attempt = 1; attempt <= maxAttempts && !signal.aborted; attempt++) {
      delivery.attempts += 1;
      const timestamp = Math.floor(Date.now() / 1000);
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'User-Agent': 'Strata-Webhooks/3',
            'Strata-Delivery': delivery.deliveryId,
            'Strata-Timestamp': String(timestamp),
            'Strata-Signature': signStrataWebhook(delivery.deliveryId, timestamp, body, hook.secret),
          },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(5000), signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          delivery.state = 'delivered';
          return;
        }
      } catch {
        // refused or timed out: retried below
      }
      if (attempt < maxAttempts) await sleep((this.opts.retryBaseMs ?? 250) * 2 ** (attempt - 1), undefined, { signal }).catch(() => undefined);
    }
    if (delivery.state === 'pending') delivery.state = 'failed';
  }
}

export async function startStrataCrmEmulator(opts: { port?: number; retryBaseMs?: number; maxAttempts?: number } = {}): Promise<StrataCrmEmulator> {
  const crm = new StrataCrmEmulator(opts);
  await crm.start();
  return crm;
}
