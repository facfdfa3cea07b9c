/**
 * "RevCRM": an emulated REST CRM written from its own (imagined) API reference, not from ours, for
 * issue #18's "a system nobody tuned for". Its definition is test/fixtures/providers/revcrm.yaml.
 *
 * API reference (v1):
 * - Auth: two headers on every /api request, `X-Account-Id: acc_...` and `X-Api-Key: rk_...`, of an
 *   account created with `addAccount`. Anything else: 401 `{"error":{"code":"unauthorized"}}`.
 * - A contact: `{ id, revision, display_name, email_address, phone_number, note, external_id,
 *   address: { street, street2, city, postcode, region, country }, custom: {k: v}, created_at,
 *   modified_at }`. `revision` is an integer, 1 on create, +1 on every change. Timestamps are ISO 8601
 *   in UTC without milliseconds.
 * - `POST /api/contacts` with `{"contact": {...}}` → 201 `{"contact": {...}}`.
 * - `GET /api/contacts/:id` → `{"contact": {...}}`; a deleted or unknown contact → 404 `not_found`.
 * - `PATCH /api/contacts/:id` (merge: top-level keys replaced, `address` and `custom` merged key by
 *   key, null clears) and `PUT` (replace: keys left out become null) with `{"contact": {...}}`, and
 *   `DELETE /api/contacts/:id` (204; the contact is gone: 404 and out of the list) all REQUIRE
 *   `If-Revision: <revision>`: missing → 428 `revision_required`; not the current one → 409
 *   `{"error":{"code":"stale_revision","current_revision":N}}`.
 * - `GET /api/contacts?page=1&per_page=100&modified_after=<ISO 8601>`, ordered by id:
 *   `{"data": [...], "meta": {"page": 1, "pages": 7, "total": 650}}` (per_page 1..200, default 25).
 * - Webhooks: `POST /api/webhooks {"url"}` → 201 `{"webhook": {"id", "url", "secret"}}`. Each change
 *   is POSTed as `{"id": "evt_...", "type": "contact.created|contact.updated|contact.deleted",
 *   "occurred_at": ISO, "contact": {...}}` (a deleted contact carries `{id, revision}` only), signed
 *   `X-Sig: t=<unix seconds>,v1=<base64 HMAC-SHA256 of "<t>.<body>">`; non-2xx answers are retried.
 * - Errors: `{"error": {"code", "message"}}`; 429 `rate_limited` (with or without `Retry-After`).
 *
 * Faults (in process, and the shared /_emulator endpoints of emulators/gateways/faults.ts): `faults`
 * (429 with or without Retry-After, 500 bursts, failure rates), `webhookFaults` (duplicate and
 * out-of-order deliveries, lost ones), `editBeforeNextWrite` (another user's edit lands between a
 * client's read and its write).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createFaultInjector, listenLocal, type FaultControls, type RunningServer } from '../gateways/faults.js';

export interface RevAddress {
  street: string | null;
  street2: string | null;
  city: string | null;
  postcode: string | null;
  region: string | null;
  country: string | null;
}

export interface RevContact {
  id: string;
  revision: number;
  display_name: string | null;
  email_address: string | null;
  phone_number: string | null;
  note: string | null;
  external_id: string | null;
  address: RevAddress;
  custom: Record<string, string>;
  created_at: string;
  modified_at: string;
}

export interface RevDelivery {
  eventId: string;
  type: string;
  url: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed' | 'lost';
}

/** Switchable webhook faults; each applies to deliveries made after it is set. */
export interface RevWebhookFaults {
  /** Every delivery is sent twice (the same event id and body). */
  duplicate?: boolean;
  /** Deliveries are held and sent newest first once this many have piled up (then again in batches). */
  reorderBatch?: number;
  /** The next this many deliveries are never sent. */
  lose?: number;
}

interface Account {
  apiKey: string;
  contacts: Map<string, RevContact>;
  webhooks: { id: string; url: string; secret: string }[];
}

const ADDRESS_KEYS = ['street', 'street2', 'city', 'postcode', 'region', 'country'] as const;
const TEXT_KEYS = ['display_name', 'email_address', 'phone_number', 'note', 'external_id'] as const;

/** Signs a body as RevCRM does: `t=<unix>,v1=<base64 HMAC-SHA256 of "t.body">`. */
export function signRevWebhook(body: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('base64');
  return `t=${t},v1=${v1}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const emptyAddress = (): RevAddress => ({ street: null, street2: null, city: null, postcode: null, region: null, country: null });

/** Checks a `contact` body: known keys with the right types. Returns the problem or null. */
function invalidContact(body: unknown): string | null {
  const c = isObject(body) ? body['contact'] : undefined;
  if (!isObject(c)) return 'the body must be {"contact": {...}}';
  for (const [key, value] of Object.entries(c)) {
    if ((TEXT_KEYS as readonly string[]).includes(key)) {
      if (value !== null && typeof value !== 'string') return `contact.${key} must be a string or null`;
    } else if (key === 'address') {
      if (value !== null && !isObject(value)) return 'contact.address must be an object';
      for (const [k, v] of Object.entries(value ?? {})) {
        if (!(ADDRESS_KEYS as readonly string[]).includes(k)) return `contact.address.${k} is not an address field`;
        if (v !== null && typeof v !== 'string') return `contact.address.${k} must be a string or null`;
      }
    } else if (key === 'custom') {
      if (value !== null && !isObject(value)) return 'contact.custom must be an object';
    } else return `contact.${key} cannot be written`;
  }
  return null;
}

export class RevCrmEmulator {
  private readonly accounts = new Map<string, Account>();
  private readonly deliveryLog: RevDelivery[] = [];
  private readonly racing = new Map<string, Record<string, unknown>>();
  private readonly faultInjector = createFaultInjector((status) => ({
    error: { code: status === 429 ? 'rate_limited' : 'server_error', message: `injected ${status}` },
  }));
  private hookFaults: RevWebhookFaults = {};
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
    if (!this.server) throw new Error('RevCRM emulator not started');
    return this.server.url;
  }

  async start(): Promise<string> {
    const app = express();
    app.use('/_emulator', this.faultInjector.router);
    app.use(express.json({ limit: '1mb' }));
    // Faults first: a rate limit or an outage answers before the credentials are looked at.
    app.use(this.faultInjector.middleware);
    app.use('/api', (req, res, next) => this.authenticate(req, res, next));
    app.post('/api/webhooks', (req, res) => this.createWebhook(req, res));
    app.post('/api/contacts', (req, res) => this.create(req, res));
    app.get('/api/contacts', (req, res) => this.list(req, res));
    app.get('/api/contacts/:id', (req, res) => {
      const c = this.found(req, res);
      if (c) res.json({ contact: c });
    });
    app.patch('/api/contacts/:id', (req, res) => this.write(req, res, 'merge'));
    app.put('/api/contacts/:id', (req, res) => this.write(req, res, 'replace'));
    app.delete('/api/contacts/:id', (req, res) => this.remove(req, res));
    app.use((req: Request, res: Response) => this.fail(res, 404, 'not_found', `no route ${req.method} ${req.path}`));
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.held.length = 0;
    await this.server?.close();
  }

  /** Creates an account; its two credentials go in X-Account-Id and X-Api-Key. */
  addAccount(accountId = `acc_${randomBytes(6).toString('hex')}`, apiKey = `rk_${randomBytes(12).toString('hex')}`): { accountId: string; apiKey: string } {
    this.accounts.set(accountId, { apiKey, contacts: new Map(), webhooks: [] });
    return { accountId, apiKey };
  }

  /** Points the account's webhooks at `url` (as POST /api/webhooks does); returns the signing secret. */
  subscribe(accountId: string, url: string): string {
    const hook = { id: `wh_${randomBytes(6).toString('hex')}`, url, secret: `rsec_${randomBytes(16).toString('hex')}` };
    this.accountOf(accountId).webhooks.push(hook);
    return hook.secret;
  }

  webhookFaults(faults: RevWebhookFaults): void {
    this.hookFaults = { ...faults };
    if (!faults.reorderBatch) this.flushHeld();
  }

  /** Another user's edit (a `contact` patch) lands on `id` just before the next PATCH/PUT/DELETE of it. */
  editBeforeNextWrite(id: string, patch: Record<string, unknown>): void {
    this.racing.set(id, patch);
  }

  /** A contact as stored (undefined once deleted), for assertions. */
  contact(accountId: string, id: string): RevContact | undefined {
    const c = this.accounts.get(accountId)?.contacts.get(id);
    return c ? structuredClone(c) : undefined;
  }

  contacts(accountId: string): RevContact[] {
    return [...(this.accounts.get(accountId)?.contacts.values() ?? [])].map((c) => structuredClone(c));
  }

  deliveries(): RevDelivery[] {
    return this.deliveryLog.map((d) => ({ ...d }));
  }

  /** Every API request received (faulted ones included), oldest first. */
  requestLog(): { method: string; path: string; at: number }[] {
    return this.faultInjector.controls.requestLog();
  }

  // --- API ---

  private accountOf(accountId: string): Account {
    const account = this.accounts.get(accountId);
    if (!account) throw new Error(`no RevCRM account ${accountId}`);
    return account;
  }

  private account(res: Response): Account {
    return res.locals['account'] as Account;
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    const account = this.accounts.get(req.header('x-account-id') ?? '');
    if (!account || req.header('x-api-key') !== account.apiKey) {
      return this.fail(res, 401, 'unauthorized', 'send X-Account-Id and X-Api-Key of an account');
    }
    res.locals['account'] = account;
    next();
  }

  private fail(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
    res.status(status).json({ error: { code, message, ...extra } });
  }

  private createWebhook(req: Request, res: Response): void {
    const url = (req.body as { url?: unknown } | undefined)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return this.fail(res, 422, 'invalid_field', 'url must be an http(s) URL');
    const hook = { id: `wh_${randomBytes(6).toString('hex')}`, url, secret: `rsec_${randomBytes(16).toString('hex')}` };
    this.account(res).webhooks.push(hook);
    res.status(201).json({ webhook: hook });
  }

  private create(req: Request, res: Response): void {
    const problem = invalidContact(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    const now = nowIso();
    const contact: RevContact = {
      id: `c_${randomBytes(8).toString('hex')}`,
      revision: 1,
      display_name: null,
      email_address: null,
      phone_number: null,
      note: null,
      external_id: null,
      address: emptyAddress(),
      custom: {},
      created_at: now,
      modified_at: now,
    };
    this.apply(contact, (req.body as { contact: Record<string, unknown> }).contact, 'merge');
    const account = this.account(res);
    account.contacts.set(contact.id, contact);
    this.emit(account, 'contact.created', contact);
    res.status(201).json({ contact });
  }

  private found(req: Request, res: Response): RevContact | undefined {
    const contact = this.account(res).contacts.get(String(req.params['id']));
    if (!contact) this.fail(res, 404, 'not_found', `no contact ${String(req.params['id'])}`);
    return contact;
  }

  /** Applies a racing edit queued for the contact, then checks If-Revision; false when refused. */
  private revisionHolds(req: Request, res: Response, contact: RevContact): boolean {
    const edit = this.racing.get(contact.id);
    if (edit) {
      this.racing.delete(contact.id);
      this.apply(contact, edit, 'merge');
      contact.revision += 1;
      contact.modified_at = nowIso();
      this.emit(this.account(res), 'contact.updated', contact);
    }
    const expected = req.header('if-revision');
    if (expected === undefined) {
      this.fail(res, 428, 'revision_required', 'send If-Revision with the revision you read');
      return false;
    }
    if (expected.replace(/^"|"$/g, '') !== String(contact.revision)) {
      this.fail(res, 409, 'stale_revision', `contact ${contact.id} is at revision ${contact.revision}`, { current_revision: contact.revision });
      return false;
    }
    return true;
  }

  private write(req: Request, res: Response, mode: 'merge' | 'replace'): void {
    const contact = this.found(req, res);
    if (!contact) return;
    const problem = invalidContact(req.body);
    if (problem) return this.fail(res, 422, 'invalid_field', problem);
    if (!this.revisionHolds(req, res, contact)) return;
    this.apply(contact, (req.body as { contact: Record<string, unknown> }).contact, mode);
    contact.revision += 1;
    contact.modified_at = nowIso();
    this.emit(this.account(res), 'contact.updated', contact);
    res.json({ contact });
  }

  private remove(req: Request, res: Response): void {
    const contact = this.found(req, res);
    if (!contact || !this.revisionHolds(req, res, contact)) return;
    const account = this.account(res);
    account.contacts.delete(contact.id);
    this.emit(account, 'contact.deleted', { id: contact.id, revision: contact.revision + 1 });
    res.status(204).end();
  }

  private apply(contact: RevContact, patch: Record<string, unknown>, mode: 'merge' | 'replace'): void {
    for (const key of TEXT_KEYS) {
      if (key in patch) contact[key] = (patch[key] as string | null) ?? null;
      else if (mode === 'replace') contact[key] = null;
    }
    const address = patch['address'] as Record<string, string | null> | null | undefined;
    if (mode === 'replace' || address === null) contact.address = emptyAddress();
    for (const [k, v] of Object.entries(address ?? {})) contact.address[k as keyof RevAddress] = v;
    const custom = patch['custom'] as Record<string, unknown> | null | undefined;
    if (mode === 'replace' || custom === null) contact.custom = {};
    for (const [k, v] of Object.entries(custom ?? {})) {
      if (v === null || v === undefined) delete contact.custom[k];
      else contact.custom[k] = String(v);
    }
  }

  private list(req: Request, res: Response): void {
    const perPage = Math.min(Math.max(Number(req.query['per_page'] ?? 25) || 25, 1), 200);
    const page = Math.max(Number(req.query['page'] ?? 1) || 1, 1);
    const after = typeof req.query['modified_after'] === 'string' ? Date.parse(req.query['modified_after']) : NaN;
    if (req.query['modified_after'] !== undefined && Number.isNaN(after)) return this.fail(res, 400, 'invalid_query', 'modified_after must be ISO 8601');
    const all = [...this.account(res).contacts.values()]
      .filter((c) => Number.isNaN(after) || Date.parse(c.modified_at) > after)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const pages = Math.max(1, Math.ceil(all.length / perPage));
    res.json({ data: all.slice((page - 1) * perPage, page * perPage), meta: { page, pages, total: all.length } });
  }

  // --- webhooks ---

  private emit(account: Account, type: string, contact: RevContact | { id: string; revision: number }): void {
    for (const hook of account.webhooks) {
      const eventId = `evt_${++this.seq}`;
      const body = JSON.stringify({ id: eventId, type, occurred_at: nowIso(), contact });
      const delivery: RevDelivery = { eventId, type, url: hook.url, attempts: 0, state: 'pending' };
      this.deliveryLog.push(delivery);
      if (this.hookFaults.lose) {
        this.hookFaults.lose -= 1;
        delivery.state = 'lost';
        continue;
      }
      const copies = this.hookFaults.duplicate ? 2 : 1;
      const send = async () => {
        for (let i = 0; i < copies; i++) await this.deliver(delivery, body, hook.secret);
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

  private async deliver(delivery: RevDelivery, body: string, secret: string): Promise<void> {
    const signal = this.closing.signal;
    const maxAttempts = this.opts.maxAttempts ?? 4;
    for (let attempt = 1; attempt <= maxAttempts && !signal.aborted; attempt++) {
      delivery.attempts += 1;
      try {
        const res = await fetch(delivery.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'RevCRM-Hooks/1', 'X-Sig': signRevWebhook(body, secret) },
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

export async function startRevCrmEmulator(opts: { port?: number; retryBaseMs?: number; maxAttempts?: number } = {}): Promise<RevCrmEmulator> {
  const crm = new RevCrmEmulator(opts);
  await crm.start();
  return crm;
}
