/**
 * "Parcelo": an emulated commerce ERP with a JSON API paged by Link headers and gzip CSV exports,
 * written from its (imagined) API reference, for tests.
 *
 * Parcelo API v2 reference (abridged):
 * - Authenticate every call with `Authorization: Token <api token>`; a wrong token answers `401`
 *   `{"message": "Bad credentials"}`.
 * - `GET /v2/products?per_page=N` (N 1-100, default 30) answers a JSON array of products, ordered by
 *   sku: `{"sku", "title", "status": "active"|"archived", "price": {"amount": "12.50", "currency"},
 *   "stock": {"location", "on_hand"}, "updated_at"}`. Pages are linked, never numbered by the client:
 *   `Link: <https://…/v2/products?page=2&per_page=N>; rel="next", <…>; rel="last"` (absolute URLs;
 *   no `next` on the last page), and `X-Total-Count` holds the total.
 * - Exports, for large catalogs: `GET /v2/exports/stock.csv.gz` is a gzip file
 *   (`Content-Type: application/gzip`) of a UTF-8 CSV `sku,location,on_hand,updated_at`;
 *   `GET /v2/exports/products.csv` is the products as CSV (`sku,title,status,amount,currency`),
 *   sent with `Content-Encoding: gzip` to clients that accept it.
 * - Rate limits: `429` `{"message": "API rate limit exceeded"}`, with `Retry-After` (seconds) from
 *   the API and without it from the export servers' proxy; `500` `{"message": "Server Error"}` in
 *   bursts during deploys. Both can hit any call, exports included.
 */
import { gzipSync } from 'node:zlib';
import express, { type Request, type Response } from 'express';
import { listenLocal, type RunningServer } from '../gateways/faults.js';
import { ErpFaultPlan } from '../erp-fault-plan.js';

export interface ParceloProduct {
  sku: string;
  title: string;
  active: boolean;
  priceMinor: number;
  currency: string;
  location: string;
  onHand: number;
  updatedAt: number;
}

export interface LinkErpOptions {
  port?: number;
  apiToken?: string;
  seed?: number;
}

export class LinkErpEmulator {
  readonly products = new Map<string, ParceloProduct>();
  readonly faults: ErpFaultPlan;
  /** Every authenticated call: path with query, status, records or rows served. */
  readonly calls: { path: string; status: number; records: number }[] = [];
  /** Replaces the stock export's bytes (e.g. a zip bomb) when set. */
  stockExportOverride: Buffer | undefined;
  private server?: RunningServer;

  constructor(private readonly opts: LinkErpOptions = {}) {
    this.faults = new ErpFaultPlan(opts.seed ?? 13);
  }

  get url(): string {
    if (!this.server) throw new Error('Parcelo emulator not started');
    return this.server.url;
  }

  get apiToken(): string {
    return this.opts.apiToken ?? 'pk_live_parcelo_51c2';
  }

  ordered(): ParceloProduct[] {
    return [...this.products.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  }

  /** The stock export as CSV text (before gzip). */
  stockCsv(): string {
    const rows = this.ordered().map((p) => `${p.sku},${p.location},${p.onHand},${new Date(p.updatedAt).toISOString()}`);
    return `sku,location,on_hand,updated_at\n${rows.join('\n')}\n`;
  }

  async start(): Promise<string> {
    const app = express();
    app.use((req, res, next) => this.gate(req, res, next));
    app.get('/v2/products', (req, res) => this.list(req, res));
    app.get('/v2/exports/stock.csv.gz', (req, res) => this.stockExport(req, res));
    app.get('/v2/exports/products.csv', (req, res) => this.productsExport(req, res));
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private gate(req: Request, res: Response, next: () => void): void {
    if (req.header('authorization') !== `Token ${this.apiToken}`) {
      res.status(401).json({ message: 'Bad credentials' });
      return;
    }
    const fault = this.faults.next();
    if (fault) {
      this.calls.push({ path: req.originalUrl, status: fault.status, records: 0 });
      if (fault.status === 429 && fault.retryAfterSeconds !== undefined) res.set('Retry-After', String(fault.retryAfterSeconds));
      res.status(fault.status).json({ message: fault.status === 429 ? 'API rate limit exceeded' : 'Server Error' });
      return;
    }
    next();
  }

  private list(req: Request, res: Response): void {
    const q = req.query as Record<string, string | undefined>;
    const perPage = q.per_page === undefined ? 30 : Number(q.per_page);
    const page = q.page === undefined ? 1 : Number(q.page);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100 || !Number.isInteger(page) || page < 1) {
      this.calls.push({ path: req.originalUrl, status: 422, records: 0 });
      res.status(422).json({ message: 'Validation Failed', errors: [{ field: 'per_page', code: 'invalid' }] });
      return;
    }
    const all = this.ordered();
    const slice = all.slice((page - 1) * perPage, page * perPage);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (p: number) => `<${this.url}/v2/products?page=${p}&per_page=${perPage}>`;
    const links = [...(page < last ? [`${link(page + 1)}; rel="next"`] : []), `${link(last)}; rel="last"`, `${link(1)}; rel="first"`];
    this.calls.push({ path: req.originalUrl, status: 200, records: slice.length });
    res
      .set('Link', links.join(', '))
      .set('X-Total-Count', String(all.length))
      .json(
        slice.map((p) => ({
          sku: p.sku,
          title: p.title,
          status: p.active ? 'active' : 'archived',
          price: { amount: (p.priceMinor / 100).toFixed(2), currency: p.currency },
          stock: { location: p.location, on_hand: p.onHand },
          updated_at: new Date(p.updatedAt).toISOString(),
        })),
      );
  }

  private stockExport(req: Request, res: Response): void {
    this.calls.push({ path: req.originalUrl, status: 200, records: this.products.size });
    res.type('application/gzip').set('Content-Disposition', 'attachment; filename="stock.csv.gz"').send(this.stockExportOverride ?? gzipSync(this.stockCsv()));
  }

  private productsExport(req: Request, res: Response): void {
    const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const rows = this.ordered().map((p) => [p.sku, quote(p.title), p.active ? 'active' : 'archived', (p.priceMinor / 100).toFixed(2), p.currency].join(','));
    const csv = `sku,title,status,amount,currency\n${rows.join('\n')}\n`;
    this.calls.push({ path: req.originalUrl, status: 200, records: rows.length });
    res.type('text/csv; charset=utf-8');
    if (/\bgzip\b/.test(req.header('accept-encoding') ?? '')) res.set('Content-Encoding', 'gzip').send(gzipSync(csv));
    else res.send(csv);
  }
}

/** `count` products PCL-00001…, titles with commas and quotes now and then, changed a second apart. */
export function seedParcelo(erp: LinkErpEmulator, count: number, from = Date.UTC(2026, 8, 1)): void {
  for (let i = 1; i <= count; i++) {
    const sku = `PCL-${String(i).padStart(5, '0')}`;
    erp.products.set(sku, {
      sku,
      title: i % 11 === 0 ? `Box, "large" ${i}` : `Parcel box ${i}`,
      active: i % 8 !== 0,
      priceMinor: 500 + i * 10,
      currency: 'USD',
      location: i % 3 === 0 ? 'DE-BER' : 'US-NYC',
      onHand: (i * 7) % 100,
      updatedAt: from + i * 1000,
    });
  }
}
