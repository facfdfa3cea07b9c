/**
 * "Ledgerline": an emulated SOAP ERP, written from its (imagined) integration guide, for tests.
 *
 * Ledgerline Integration Guide, v3 (abridged):
 * - Log in with `POST /session` and `{"user": "...", "password": "..."}` (JSON). The answer is
 *   `{"sessionId": "...", "ttl": 30}`: the session lives `ttl` seconds. Wrong credentials: `401`
 *   `{"error": "invalid_login"}`. Integration partners may instead send a long-lived key in
 *   `X-Integration-Key` on every call.
 * - Every call sends the session in `X-Session-Id`. An expired or unknown session answers HTTP 401
 *   with a SOAP fault: faultcode `soap:Client`, faultstring `Session expired`, detail
 *   `<l:SessionExpired/>`. Log in again and repeat the call.
 * - Items: `POST /soap/ItemService` with `SOAPAction: "urn:ledgerline:items#GetItems"` and a SOAP 1.1
 *   envelope whose body is `<l:GetItems><l:Offset>0</l:Offset><l:Limit>50</l:Limit></l:GetItems>`
 *   (namespace `urn:ledgerline:items`; Limit 1-200). The answer is
 *   `<l:GetItemsResponse><l:Total>…</l:Total><l:Offset>…</l:Offset><l:Items><l:Item>…` with items
 *   ordered by ItemCode: `ItemCode`, `Description`, `UnitPrice` (decimal point, attribute
 *   `currency`), `Warehouse`, `QtyOnHand`, `Active` (`true`/`false`), `Modified` (ISO 8601 UTC).
 * - Errors are SOAP faults: a malformed request `400` (faultcode `soap:Client`), a server error `500`
 *   (`soap:Server`), too many requests `429` (`l:Throttled`), with `Retry-After` in seconds when the
 *   gateway knows it and without it when it does not.
 */
import express, { type Request, type Response } from 'express';
import { listenLocal, type RunningServer } from '../gateways/faults.js';
import { ErpFaultPlan } from '../erp-fault-plan.js';
import { seededRandom } from '../seeded-random.js';

export const LEDGERLINE_NS = 'urn:ledgerline:items';
export const GET_ITEMS_ACTION = `"${LEDGERLINE_NS}#GetItems"`;

export interface LedgerlineItem {
  code: string;
  description: string;
  /** Minor units of `currency`. */
  priceMinor: number;
  currency: string;
  warehouse: string;
  qty: number;
  active: boolean;
  modified: number;
}

export interface SoapErpOptions {
  port?: number;
  user?: string;
  password?: string;
  integrationKey?: string;
  sessionTtlSeconds?: number;
  seed?: number;
}

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:l="${LEDGERLINE_NS}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

function fault(code: 'soap:Client' | 'soap:Server', text: string, detail = ''): string {
  return envelope(`<soap:Fault><faultcode>${code}</faultcode><faultstring>${escape(text)}</faultstring>${detail ? `<detail>${detail}</detail>` : ''}</soap:Fault>`);
}

/** One element's text in a request envelope, whatever its namespace prefix. */
function elementText(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${name}>`, 'g'))].map((m) => m[1]!);
}

export class SoapErpEmulator {
  readonly items = new Map<string, LedgerlineItem>();
  readonly faults: ErpFaultPlan;
  /** Every SOAP call: how it authenticated, the answer's status and what it asked for. */
  readonly calls: { auth: 'session' | 'key' | 'none'; status: number; offset?: number; limit?: number; records: number; retryAfter?: string; body?: string }[] = [];
  logins = 0;
  private readonly sessions = new Map<string, number>();
  private readonly random: () => number;
  private server?: RunningServer;

  constructor(private readonly opts: SoapErpOptions = {}) {
    this.random = seededRandom(opts.seed ?? 11);
    this.faults = new ErpFaultPlan(opts.seed ?? 11);
  }

  get url(): string {
    if (!this.server) throw new Error('Ledgerline emulator not started');
    return this.server.url;
  }

  get integrationKey(): string {
    return this.opts.integrationKey ?? 'llk_integration_7f3a';
  }

  /** Ends every session now, as a server restart or an administrator would. */
  expireSessions(): void {
    this.sessions.clear();
  }

  ordered(): LedgerlineItem[] {
    return [...this.items.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  }

  async start(): Promise<string> {
    const app = express();
    app.post('/session', express.json(), (req, res) => this.login(req, res));
    app.post('/soap/ItemService', express.text({ type: () => true, limit: '64kb' }), (req, res) => this.getItems(req, res));
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private login(req: Request, res: Response): void {
    const body = (req.body ?? {}) as { user?: unknown; password?: unknown };
    if (body.user !== (this.opts.user ?? 'integration') || body.password !== (this.opts.password ?? 'ledger-secret')) {
      res.status(401).json({ error: 'invalid_login' });
      return;
    }
    this.logins += 1;
    const sessionId = `LL-${Math.floor(this.random() * 1e12).toString(36)}-${this.logins}`;
    const ttl = this.opts.sessionTtlSeconds ?? 30;
    this.sessions.set(sessionId, Date.now() + ttl * 1000);
    res.json({ sessionId, ttl });
  }

  private soap(res: Response, status: number, xml: string): void {
    res.status(status).type('text/xml; charset=utf-8').send(xml);
  }

  private getItems(req: Request, res: Response): void {
    const session = req.header('x-session-id');
    const auth = req.header('x-integration-key') === this.integrationKey ? 'key' : session ? 'session' : 'none';
    const expires = session ? this.sessions.get(session) : undefined;
    if (auth === 'none' || (auth === 'session' && (expires === undefined || expires < Date.now()))) {
      this.calls.push({ auth, status: 401, records: 0 });
      this.soap(res, 401, fault('soap:Client', 'Session expired', '<l:SessionExpired/>'));
      return;
    }
    const planned = this.faults.next();
    if (planned?.status === 429) {
      if (planned.retryAfterSeconds !== undefined) res.set('Retry-After', String(planned.retryAfterSeconds));
      this.calls.push({ auth, status: 429, records: 0, ...(planned.retryAfterSeconds !== undefined ? { retryAfter: String(planned.retryAfterSeconds) } : {}) });
      this.soap(res, 429, fault('soap:Client', 'Too many requests', '<l:Throttled/>'));
      return;
    }
    if (planned?.status === 500) {
      this.calls.push({ auth, status: 500, records: 0 });
      this.soap(res, 500, fault('soap:Server', 'Internal error, try again'));
      return;
    }
    const text = typeof req.body === 'string' ? req.body : '';
    const offsets = elementText(text, 'Offset');
    const limits = elementText(text, 'Limit');
    const offset = Number(offsets[0]);
    const limit = Number(limits[0]);
    if (
      req.header('soapaction') !== GET_ITEMS_ACTION ||
      !/<(?:[\w.-]+:)?Envelope[\s>]/.test(text) ||
      !/<(?:[\w.-]+:)?GetItems[\s>]/.test(text) ||
      offsets.length !== 1 ||
      limits.length !== 1 ||
      !Number.isInteger(offset) ||
      offset < 0 ||
      !Number.isInteger(limit) ||
      limit < 1 ||
      limit > 200
    ) {
      this.calls.push({ auth, status: 400, records: 0, body: text });
      this.soap(res, 400, fault('soap:Client', 'Expected GetItems with one Offset (>= 0) and one Limit (1-200)'));
      return;
    }
    const all = this.ordered();
    const page = all.slice(offset, offset + limit);
    this.calls.push({ auth, status: 200, offset, limit, records: page.length, body: text });
    const item = (i: LedgerlineItem) =>
      `<l:Item><l:ItemCode>${escape(i.code)}</l:ItemCode><l:Description>${escape(i.description)}</l:Description>` +
      `<l:UnitPrice currency="${i.currency}">${(i.priceMinor / 100).toFixed(2)}</l:UnitPrice><l:Warehouse>${escape(i.warehouse)}</l:Warehouse>` +
      `<l:QtyOnHand>${i.qty}</l:QtyOnHand><l:Active>${i.active}</l:Active><l:Modified>${new Date(i.modified).toISOString()}</l:Modified></l:Item>`;
    this.soap(
      res,
      200,
      envelope(`<l:GetItemsResponse><l:Total>${all.length}</l:Total><l:Offset>${offset}</l:Offset><l:Items>${page.map(item).join('')}</l:Items></l:GetItemsResponse>`),
    );
  }
}

/** `count` items LL-00001…, with XML-hostile descriptions now and then, changed a second apart. */
export function seedLedgerline(erp: SoapErpEmulator, count: number, from = Date.UTC(2026, 5, 1)): void {
  for (let i = 1; i <= count; i++) {
    const code = `LL-${String(i).padStart(5, '0')}`;
    erp.items.set(code, {
      code,
      description: i % 9 === 0 ? `Bolt & nut <M${i}> "zinc"` : `Item ${i}`,
      priceMinor: 1000 + i * 25,
      currency: i % 4 === 0 ? 'USD' : 'EUR',
      warehouse: i % 2 === 0 ? 'north' : 'south',
      qty: i % 50,
      active: i % 6 !== 0,
      modified: from + i * 1000,
    });
  }
}
