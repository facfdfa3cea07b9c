/**
 * "Nimbus CRM": an emulated REST CRM with a wire format unlike Stripe's, for the declarative CRM
 * target (providers/democrm.yaml), tests and the demo.
 *
 * - Bearer auth: every `Authorization: Bearer crm_...` token is its own account (like Stripe's keys);
 *   or OAuth2 client credentials at POST /oauth/token for a client registered with `addClient`.
 * - JSON in and out, snake_case, nested records under `contact`: `full_name`, `emails: [{ value, primary }]`,
 *   `phones: [{ number, kind }]`, `postal_address: { street_lines: [], city, zip, region, country_code }`,
 *   `notes`, `custom_fields`, `external_ref` (the caller's id), ISO 8601 timestamps with milliseconds.
 * - POST /api/v2/contacts (201; `X-Idempotency-Key` replays the first answer), GET/PUT/DELETE
 *   /api/v2/contacts/:id. PUT merges: objects are merged key by key, arrays and scalars replaced,
 *   null clears. A deleted contact is archived: GET/PUT answer 410 Gone, an unknown id 404.
 * - GET /api/v2/contacts?page_token&page_size (live contacts), GET /api/v2/changes?after&limit: the
 *   change feed by sequence number (`next_after`, `has_more`).
 * - POST /api/v2/webhooks { url } → a signing secret. Every change is POSTed to the account's webhooks
 *   as { event_id, event_type: contact.created|updated|deleted, occurred_at, contact }, with
 *   `X-Crm-Timestamp: <unix seconds>` and `X-Crm-Signature: sha256=<base64 HMAC-SHA256 of "<timestamp>.<body>">`;
 *   non-2xx answers are retried with backoff.
 * - Optimistic concurrency: every contact has a `revision` (a decimal string, "1" on create, +1 on
 *   every change). PUT and DELETE with `If-Revision: <revision>` answer 409 `stale_revision` when the
 *   contact is at another revision; without the header they apply as before.
 * - Faults: `failNext` (e.g. 429 with Retry-After) in process or POST /_emulator/fail-next;
 *   `editBeforeNextWrite` (another user's edit lands just before our next PUT/DELETE of a contact).
 * - Errors: { "error": { "code", "message" } } (401 unauthorized, 404 not_found, 410 archived,
 *   422 invalid_field, 429 rate_limited).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { listenLocal, type RunningServer } from '../gateways/faults.js';

export interface CrmContact {
  id: string;
  external_ref: string | null;
  full_name: string | null;
  emails: { value: string | null; primary?: boolean }[];
  phones: { number: string | null; kind?: string }[];
  postal_address: {
    street_lines: (string | null)[];
    city: string | null;
    zip: string | null;
    region: string | null;
    country_code: string | null;
  } | null;
  notes: string | null;
  custom_fields: Record<string, string>;
  lifecycle_stage: string;
  revision: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

export interface CrmChange {
  seq: number;
  change_id: string;
  action: 'contact.created' | 'contact.updated' | 'contact.deleted';
  contact_id: string;
  external_ref: string | null;
  occurred_at: string;
}

export interface CrmRequestRecord {
  account: string | null;
  method: string;
  path: string;
  status: number;
  body: unknown;
  idempotencyKey: string | undefined;
  at: number;
}

export interface CrmDelivery {
  eventId: string;
  eventType: string;
  url: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed';
  lastStatus?: number;
}

interface Account {
  contacts: Map<string, CrmContact>;
  changes: CrmChange[];
  webhooks: { id: string; url: string; signing_secret: string }[];
  idempotency: Map<string, { status: number; body: unknown }>;
}

interface FailRule {
  remaining: number;
  status: number;
  retryAfter?: string;
  method?: string;
  pathPrefix?: string;
  /** Only this exact path (e.g. the list, not the records under it). */
  path?: string;
  /** Matching requests let through before the rule starts failing them (e.g. fail only page 2). */
  skip?: number;
}

const CONTACT_KEYS = new Set([
  'external_ref',
  'full_name',
  'emails',
  'phones',
  'postal_address',
  'notes',
  'custom_fields',
  'lifecycle_stage',
]);

/** Signs a webhook body as the CRM does: base64 HMAC-SHA256 over "<timestamp>.<body>". */
export function signCrmWebhook(
  body: string,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
): { 'X-Crm-Timestamp': string; 'X-Crm-Signature': string } {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'X-Crm-Timestamp': String(timestamp), 'X-Crm-Signature': `sha256=${mac}` };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** PUT semantics: objects merge key by key, arrays and scalars are replaced, null clears. */
function mergeInto(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isObject(value) && isObject(current)) mergeInto(current, value);
    else target[key] = isObject(value) ? structuredClone(value) : value;
  }
}

function cleanCustomFields(fields: unknown): Record<string, string> {
  if (!isObject(fields)) return {};
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}

export class CrmEmulator {
  private readonly accounts = new Map<string, Account>();
  private readonly log: CrmRequestRecord[] = [];
  private readonly deliveryLog: CrmDelivery[] = [];
  private readonly rules: FailRule[] = [];
  private readonly clients = new Map<string, string>();
  private readonly issued = new Map<string, { clientId: string; expiresAt: number }>();
  private readonly nextIds: string[] = [];
  private readonly racingEdits = new Map<string, Record<string, unknown>>();
  /** OAuth2 access tokens handed out (client-credentials grant). */
  tokensIssued = 0;
  private server?: RunningServer;
  private seq = 0;
  private paused = false;
  private resumeWaiters: (() => void)[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly closing = new AbortController();

  constructor(private readonly opts: { port?: number; retryBaseMs?: number; maxAttempts?: number } = {}) {}

  get url(): string {
    if (!this.server) throw new Error('CRM emulator not started');
    return this.server.url;
  }

  async start(): Promise<string> {
    const app = express();
    app.use(express.json({ limit: '1mb' }));
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => this.token(req, res));
    app.post('/_emulator/fail-next', (req, res) => {
      const body = req.body as Partial<FailRule> & { count?: number };
      this.failNext({
        status: Number(body.status ?? 503),
        count: Number(body.count ?? 1),
        ...(body.retryAfter ? { retryAfter: String(body.retryAfter) } : {}),
      });
      res.status(204).end();
    });
    app.use('/api/v2', (req, res, next) => this.authenticate(req, res, next));
    app.post('/api/v2/webhooks', (req, res) => this.createWebhook(req, res));
    app.post('/api/v2/contacts', (req, res) => this.create(req, res));
    app.get('/api/v2/contacts', (req, res) => this.list(req, res));
    app.get('/api/v2/contacts/:id', (req, res) => this.retrieve(req, res));
    app.put('/api/v2/contacts/:id', (req, res) => this.update(req, res));
    app.delete('/api/v2/contacts/:id', (req, res) => this.remove(req, res));
    app.get('/api/v2/changes', (req, res) => this.changeFeed(req, res));
    app.use((req: Request, res: Response) =>
      this.fail(res, 404, 'not_found', `no route ${req.method} ${req.path}`),
    );
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.resume();
    await this.server?.close();
  }

  /** The next `count` matching API requests fail with `status` before being processed. */
  failNext(rule: {
    status: number;
    count?: number;
    retryAfter?: string;
    method?: string;
    pathPrefix?: string;
    path?: string;
    skip?: number;
  }): void {
    this.rules.push({
      remaining: rule.count ?? 1,
      status: rule.status,
      ...(rule.retryAfter ? { retryAfter: rule.retryAfter } : {}),
      ...(rule.method ? { method: rule.method } : {}),
      ...(rule.pathPrefix ? { pathPrefix: rule.pathPrefix } : {}),
      ...(rule.path ? { path: rule.path } : {}),
      ...(rule.skip ? { skip: rule.skip } : {}),
    });
  }

  /** Drops every fault queued by `failNext` (an outage ends). */
  clearFailures(): void {
    this.rules.length = 0;
  }

  /**
   * Someone else's edit (a `contact` patch, PUT semantics) lands on contact `id` just before the next
   * PUT or DELETE of it is processed: the write that read the contact before is then stale.
   */
  editBeforeNextWrite(id: string, patch: Record<string, unknown>): void {
    this.racingEdits.set(id, patch);
  }

  /**
   * Registers an OAuth2 client: POST /oauth/token with grant_type=client_credentials (client id and
   * secret as form fields or HTTP Basic) returns a bearer token acting for account `client:<id>`.
   */
  addClient(clientId: string, clientSecret: string): void {
    this.clients.set(clientId, clientSecret);
  }

  /** The next contact created gets this id (e.g. one another system already uses). */
  useNextId(id: string): void {
    this.nextIds.push(id);
  }

  /** Every API request answered, oldest first. */
  requests(): CrmRequestRecord[] {
    return this.log.map((r) => ({ ...r }));
  }

  deliveries(): CrmDelivery[] {
    return this.deliveryLog.map((d) => ({ ...d }));
  }

  /** The stored contact (archived ones included), for assertions. */
  contact(token: string, id: string): CrmContact | undefined {
    const c = this.accounts.get(token)?.contacts.get(id);
    return c ? structuredClone(c) : undefined;
  }

  contacts(token: string): CrmContact[] {
    return [...(this.accounts.get(token)?.contacts.values() ?? [])].map((c) => structuredClone(c));
  }

  pauseWebhooks(): void {
    this.paused = true;
  }

  resumeWebhooks(): void {
    this.resume();
  }

  /** Resolves once no webhook delivery is pending. */
  webhooksIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // --- API ---

  private account(res: Response): Account {
    return res.locals['account'] as Account;
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const bearer = /^Bearer (crm_[A-Za-z0-9_]{8,})$/.exec(req.header('authorization') ?? '')?.[1];
    // An OAuth2 token acts for its client's account; an expired one is refused like a wrong one.
    const issued = bearer ? this.issued.get(bearer) : undefined;
    const token = issued ? (issued.expiresAt > Date.now() ? `client:${issued.clientId}` : undefined) : bearer;
    res.locals['token'] = token ?? null;
    const started = Date.now();
    res.on('finish', () =>
      this.log.push({
        account: token ?? null,
        method: req.method,
        path: req.path.startsWith('/api/v2') ? req.path : `/api/v2${req.path}`,
        status: res.statusCode,
        body: req.body as unknown,
        idempotencyKey: req.header('x-idempotency-key'),
        at: started,
      }),
    );
    if (!token) return this.fail(res, 401, 'unauthorized', 'a bearer token crm_... is required');
    const path = `/api/v2${req.path}`;
    const rule = this.rules.find(
      (r) =>
        r.remaining > 0 &&
        (!r.method || r.method === req.method) &&
        (!r.pathPrefix || path.startsWith(r.pathPrefix)) &&
        (!r.path || path === r.path),
    );
    if (rule?.skip) rule.skip -= 1;
    else if (rule) {
      rule.remaining -= 1;
      if (rule.retryAfter) res.setHeader('Retry-After', rule.retryAfter);
      return this.fail(
        res,
        rule.status,
        rule.status === 429 ? 'rate_limited' : 'unavailable',
        `injected ${rule.status}`,
      );
    }
    let account = this.accounts.get(token);
    if (!account) {
      account = { contacts: new Map(), changes: [], webhooks: [], idempotency: new Map() };
      this.accounts.set(token, account);
    }
    res.locals['account'] = account;
    next();
  }

  private token(req: Request, res: Response): void {
    const form = req.body as Record<string, string | undefined>;
    let [id, secret] = [form['client_id'], form['client_secret']];
    const basic = /^Basic (.+)$/.exec(req.header('authorization') ?? '')?.[1];
    if (basic) [id, secret] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
    if (form['grant_type'] !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type' });
      return;
    }
    if (!id || this.clients.get(id) !== secret) {
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    const accessToken = `crm_oat_${randomBytes(12).toString('hex')}`;
    this.issued.set(accessToken, { clientId: id, expiresAt: Date.now() + 3600_000 });
    this.tokensIssued += 1;
    res.json({ access_token: accessToken, token_type: 'bearer', expires_in: 3600 });
  }

  /** Expires every OAuth2 token at once (the next call gets 401 and must fetch a new one). */
  revokeTokens(): void {
    for (const entry of this.issued.values()) entry.expiresAt = 0;
  }

  private fail(res: Response, status: number, code: string, message: string): void {
    res.status(status).json({ error: { code, message } });
  }

  private createWebhook(req: Request, res: Response): void {
    const url = (req.body as { url?: unknown } | undefined)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      return this.fail(res, 422, 'invalid_field', 'url must be an http(s) URL');
    const hook = {
      id: `wh_${randomBytes(6).toString('hex')}`,
      url,
      signing_secret: `crmsig_${randomBytes(16).toString('hex')}`,
    };
    this.account(res).webhooks.push(hook);
    res.status(201).json({ webhook: hook });
  }

  /** Checks the `contact` object of a request: known keys only, right shapes. Returns an error message or null. */
  private invalid(body: unknown): string | null {
    const contact = isObject(body) ? body['contact'] : undefined;
    if (!isObject(contact)) return 'the body must be { "contact": { ... } }';
    for (const [key, value] of Object.entries(contact)) {
      if (!CONTACT_KEYS.has(key)) return `contact.${key} is not a field of a contact`;
      if ((key === 'emails' || key === 'phones') && value !== null && !Array.isArray(value))
        return `contact.${key} must be an array`;
      if ((key === 'postal_address' || key === 'custom_fields') && value !== null && !isObject(value))
        return `contact.${key} must be an object`;
    }
    return null;
  }

  private create(req: Request, res: Response): void {
    const account = this.account(res);
    const key = req.header('x-idempotency-key');
    const replay = key ? account.idempotency.get(key) : undefined;
    if (replay) {
      res.status(replay.status).json(replay.body);
      return;
    }
    const problem = this.invalid(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    const now = new Date().toISOString();
    const contact: CrmContact = {
      id: this.nextIds.shift() ?? `ctc_${randomBytes(8).toString('hex')}`,
      external_ref: null,
      full_name: null,
      emails: [],
      phones: [],
      postal_address: null,
      notes: null,
      custom_fields: {},
      lifecycle_stage: 'lead',
      revision: '1',
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    mergeInto(
      contact as unknown as Record<string, unknown>,
      (req.body as { contact: Record<string, unknown> }).contact,
    );
    contact.custom_fields = cleanCustomFields(contact.custom_fields);
    account.contacts.set(contact.id, contact);
    const body = { contact: structuredClone(contact) };
    if (key) account.idempotency.set(key, { status: 201, body });
    this.record(account, 'contact.created', contact);
    res.status(201).json(body);
  }

  private found(req: Request, res: Response): CrmContact | undefined {
    const contact = this.account(res).contacts.get(String(req.params['id']));
    if (!contact) {
      this.fail(res, 404, 'not_found', `no contact ${String(req.params['id'])}`);
      return undefined;
    }
    if (contact.archived_at) {
      this.fail(res, 410, 'archived', `contact ${contact.id} was deleted at ${contact.archived_at}`);
      return undefined;
    }
    return contact;
  }

  /**
   * Applies a racing edit queued for this contact, then checks `If-Revision`: true when the write may
   * go on (a 409 was sent otherwise).
   */
  private revisionHolds(req: Request, res: Response, contact: CrmContact): boolean {
    const racing = this.racingEdits.get(contact.id);
    if (racing) {
      this.racingEdits.delete(contact.id);
      this.applyEdit(this.account(res), contact, racing);
    }
    const expected = req.header('if-revision');
    if (expected === undefined || expected === contact.revision) return true;
    this.fail(res, 409, 'stale_revision', `contact ${contact.id} is at revision ${contact.revision}, not ${expected}`);
    return false;
  }

  private applyEdit(account: Account, contact: CrmContact, patch: Record<string, unknown>): void {
    mergeInto(contact as unknown as Record<string, unknown>, patch);
    contact.custom_fields = cleanCustomFields(contact.custom_fields);
    contact.emails ??= [];
    contact.phones ??= [];
    contact.updated_at = new Date().toISOString();
    contact.revision = String(Number(contact.revision) + 1);
    this.record(account, 'contact.updated', contact);
  }

  private retrieve(req: Request, res: Response): void {
    const contact = this.found(req, res);
    if (contact) res.json({ contact });
  }

  private update(req: Request, res: Response): void {
    const contact = this.found(req, res);
    if (!contact) return;
    const problem = this.invalid(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    if (!this.revisionHolds(req, res, contact)) return;
    this.applyEdit(this.account(res), contact, (req.body as { contact: Record<string, unknown> }).contact);
    res.json({ contact });
  }

  private remove(req: Request, res: Response): void {
    const contact = this.found(req, res);
    if (!contact || !this.revisionHolds(req, res, contact)) return;
    contact.archived_at = new Date().toISOString();
    contact.revision = String(Number(contact.revision) + 1);
    contact.updated_at = contact.archived_at;
    this.record(this.account(res), 'contact.deleted', contact);
    res.status(204).end();
  }

  private list(req: Request, res: Response): void {
    const size = Math.min(Math.max(Number(req.query['page_size'] ?? 50) || 50, 1), 200);
    const live = [...this.account(res).contacts.values()].filter((c) => !c.archived_at);
    const start =
      typeof req.query['page_token'] === 'string'
        ? Number(Buffer.from(req.query['page_token'], 'base64url').toString()) || 0
        : 0;
    const page = live.slice(start, start + size);
    const next = start + size < live.length ? Buffer.from(String(start + size)).toString('base64url') : null;
    res.json({ contacts: page, next_page_token: next });
  }

  private changeFeed(req: Request, res: Response): void {
    const after = Number(req.query['after'] ?? 0) || 0;
    const limit = Math.min(Math.max(Number(req.query['limit'] ?? 100) || 100, 1), 500);
    const pending = this.account(res).changes.filter((c) => c.seq > after);
    const page = pending.slice(0, limit);
    res.json({
      changes: page,
      next_after: String(page.at(-1)?.seq ?? after),
      has_more: pending.length > page.length,
    });
  }

  // --- change feed and webhooks ---

  private record(account: Account, action: CrmChange['action'], contact: CrmContact): void {
    const seq = ++this.seq;
    const change: CrmChange = {
      seq,
      change_id: `chg_${seq}`,
      action,
      contact_id: contact.id,
      external_ref: contact.external_ref,
      occurred_at: contact.updated_at,
    };
    account.changes.push(change);
    for (const hook of account.webhooks) {
      const payload = JSON.stringify({
        event_id: `evt_${seq}_${hook.id}`,
        event_type: action,
        occurred_at: change.occurred_at,
        contact,
      });
      const delivery: CrmDelivery = {
        eventId: `evt_${seq}_${hook.id}`,
        eventType: action,
        url: hook.url,
        attempts: 0,
        state: 'pending',
      };
      this.deliveryLog.push(delivery);
      this.inFlight += 1;
      void this.deliver(delivery, payload, hook.signing_secret).finally(() => {
        this.inFlight -= 1;
        if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  private resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async deliver(delivery: CrmDelivery, payload: string, secret: string): Promise<void> {
    const signal = this.closing.signal;
    const maxAttempts = this.opts.maxAttempts ?? 4;
    try {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        while (this.paused && !signal.aborted)
          await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
        if (signal.aborted) return;
        delivery.attempts = attempt;
        try {
          const res = await fetch(delivery.url, {
            method: 'POST',
            headers: {
              'Content-Type': 'application/json',
              'User-Agent': 'NimbusCRM-Webhooks/2',
              ...signCrmWebhook(payload, secret),
            },
            body: payload,
            signal: AbortSignal.any([AbortSignal.timeout(5000), signal]),
          });
          await res.arrayBuffer().catch(() => undefined);
          delivery.lastStatus = res.status;
          if (res.ok) {
            delivery.state = 'delivered';
            return;
          }
        } catch {
          if (signal.aborted) return;
        }
        if (attempt < maxAttempts)
          await sleep((this.opts.retryBaseMs ?? 250) * 2 ** (attempt - 1), undefined, { signal });
      }
      delivery.state = 'failed';
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }
}

export async function startCrmEmulator(opts: { port?: number } = {}): Promise<CrmEmulator> {
  const crm = new CrmEmulator(opts);
  await crm.start();
  return crm;
}
