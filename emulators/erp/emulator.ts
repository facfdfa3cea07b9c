/**
 * "Defter ERP": an emulated Turkish ERP with its own wire format, for tests, the demo and benchmarks.
 *
 * - OAuth2 password grant at POST /oauth/token; tokens live `tokenTtlSeconds` (short on purpose), an
 *   expired or unknown token gets 401.
 * - GET /api/v1/{urunler,fiyatlar,stoklar,siparisler}: Turkish field names, decimal comma, local
 *   Istanbul timestamps without offset ('dd.MM.yyyy HH:mm:ss'), records in `kayitlar`, ordered by
 *   (GuncellemeTarihi, key), cursor pagination (`imlec` → `sonrakiImlec`), page size `adet`, and
 *   `guncellemeSonrasi` (updated at or after, local time). Older clients page instead by number
 *   (`sayfa`, from 1) or by offset (`atla`); every page also carries an RFC 8288 `Link: <…>; rel="next"`.
 *   The newer filter `guncellemeSonrasiUtc` takes ISO 8601 (UTC when the value has no offset) and
 *   returns records changed strictly after it; any other notation is a 400.
 * - GET /api/v1/malzemeler: item cards, one record per item carrying its product fields, its price
 *   and its stock (what one read feeding products, prices and inventory is for).
 *   The API serves `ERP_STREAMS` with the same paging and filters.
 * - GET /api/v1/urunler.csv: the product list as a Windows-1254 CSV with semicolons and CRLF.
 * - Faults, seeded so a test run is reproducible: a share of requests gets 429 with Retry-After or 500.
 */
import express, { type Request, type Response } from 'express';
import iconv from 'iconv-lite';
import { DateTime } from 'luxon';
import { listenLocal, type RunningServer } from '../gateways/faults.js';
import { seededRandom } from '../seeded-random.js';

export const ERP_ZONE = 'Europe/Istanbul';
export const ERP_TIME_FORMAT = 'dd.MM.yyyy HH:mm:ss';

export const ERP_STREAMS = { urunler: 'StokKodu', fiyatlar: 'StokKodu', stoklar: 'StokKodu', siparisler: 'SiparisNo', malzemeler: 'StokKodu' } as const;
export type ErpStream = keyof typeof ERP_STREAMS;

/** A record as the ERP stores it: its fields plus the change time (epoch ms, whole seconds). */
export interface ErpRecord {
  key: string;
  updatedAt: number;
  fields: Record<string, unknown>;
}

export interface ErpFaults {
  /** Share of API requests answered 429 with Retry-After (0..1). */
  rate429: number;
  /** Share of API requests answered 500 (0..1). */
  rate500: number;
  retryAfterSeconds: number;
}

export interface ErpEmulatorOptions {
  port?: number;
  username?: string;
  password?: string;
  clientId?: string;
  tokenTtlSeconds?: number;
  seed?: number;
}

export const formatErpTime = (ms: number) => DateTime.fromMillis(ms, { zone: ERP_ZONE }).toFormat(ERP_TIME_FORMAT);

/** 129990 → "1.299,90" (minor units of a 2-decimal currency in Turkish notation). */
export function formatTurkishAmount(minor: number): string {
  const whole = Math.trunc(minor / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `${whole},${String(Math.abs(minor % 100)).padStart(2, '0')}`;
}

export class ErpEmulator {
  readonly stores: Record<ErpStream, Map<string, ErpRecord>> = {
    urunler: new Map(),
    fiyatlar: new Map(),
    stoklar: new Map(),
    siparisler: new Map(),
    malzemeler: new Map(),
  };
  faults: ErpFaults = { rate429: 0, rate500: 0, retryAfterSeconds: 1 };
  /** Every API request (not token requests): stream, status and how many records it returned. */
  readonly requests: { stream: string; status: number; records: number; since?: string; sinceUtc?: string; at: number }[] = [];
  tokensIssued = 0;
  private readonly tokens = new Map<string, number>();
  private random: () => number;
  private server?: RunningServer;

  constructor(private readonly opts: ErpEmulatorOptions = {}) {
    this.random = seededRandom(opts.seed ?? 42);
  }

  get url(): string {
    if (!this.server) throw new Error('ERP emulator not started');
    return this.server.url;
  }

  setFaults(faults: Partial<ErpFaults>, seed?: number): void {
    this.faults = { ...this.faults, ...faults };
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  put(stream: ErpStream, fields: Record<string, unknown>, updatedAt: number): void {
    const key = String(fields[ERP_STREAMS[stream]]);
    const at = Math.floor(updatedAt / 1000) * 1000;
    this.stores[stream].set(key, { key, updatedAt: at, fields: { ...fields, GuncellemeTarihi: formatErpTime(at) } });
  }

  /** Records of a stream ordered as the API pages them. */
  ordered(stream: ErpStream): ErpRecord[] {
    return [...this.stores[stream].values()].sort((a, b) => a.updatedAt - b.updatedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async start(): Promise<string> {
    const app = express();
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => this.token(req, res));
    app.get('/api/v1/urunler.csv', (req, res) => this.csv(req, res));
    app.get('/api/v1/:stream', (req, res) => this.list(req, res));
    this.server = await listenLocal(app, this.opts.port ?? 0);
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private token(req: Request, res: Response): void {
    const body = req.body as Record<string, string | undefined>;
    if (body.grant_type !== 'password') {
      res.status(400).json({ error: 'unsupported_grant_type' });
      return;
    }
    if (body.username !== (this.opts.username ?? 'entegrasyon') || body.password !== (this.opts.password ?? 'gizli')) {
      res.status(400).json({ error: 'invalid_grant', error_description: 'Kullanıcı adı veya şifre hatalı' });
      return;
    }
    const token = `tk_${Math.floor(this.random() * 1e12).toString(36)}_${(this.tokensIssued += 1)}`;
    const ttl = this.opts.tokenTtlSeconds ?? 60;
    this.tokens.set(token, Date.now() + ttl * 1000);
    res.json({ access_token: token, token_type: 'bearer', expires_in: ttl });
  }

  private authorized(req: Request, res: Response): boolean {
    const token = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
    const expires = token ? this.tokens.get(token) : undefined;
    if (expires === undefined || expires < Date.now()) {
      res.status(401).json({ hata: 'Oturum süresi doldu' });
      return false;
    }
    return true;
  }

  /** Injected faults; true when the request was answered with one. */
  private fault(stream: string, res: Response): boolean {
    const roll = this.random();
    if (roll < this.faults.rate429) {
      this.requests.push({ stream, status: 429, records: 0, at: Date.now() });
      res.status(429).set('Retry-After', String(this.faults.retryAfterSeconds)).json({ hata: 'Çok fazla istek' });
      return true;
    }
    if (roll < this.faults.rate429 + this.faults.rate500) {
      this.requests.push({ stream, status: 500, records: 0, at: Date.now() });
      res.status(500).json({ hata: 'Sunucu hatası' });
      return true;
    }
    return false;
  }

  private list(req: Request, res: Response): void {
    const stream = String(req.params.stream);
    if (!(stream in ERP_STREAMS)) {
      res.status(404).json({ hata: 'Bulunamadı' });
      return;
    }
    if (!this.authorized(req, res) || this.fault(stream, res)) return;
    const q = req.query as Record<string, string | undefined>;
    const size = Math.min(Math.max(Number(q.adet ?? 50) || 50, 1), 500);
    let records = this.ordered(stream as ErpStream);
    if (q.guncellemeSonrasi) {
      const since = DateTime.fromFormat(q.guncellemeSonrasi, ERP_TIME_FORMAT, { zone: ERP_ZONE });
      if (!since.isValid) {
        res.status(400).json({ hata: `guncellemeSonrasi '${q.guncellemeSonrasi}' biçimi ${ERP_TIME_FORMAT} olmalı` });
        return;
      }
      records = records.filter((r) => r.updatedAt >= since.toMillis());
    }
    if (q.guncellemeSonrasiUtc !== undefined) {
      const after = DateTime.fromISO(q.guncellemeSonrasiUtc, { zone: 'utc' });
      if (!after.isValid) {
        res.status(400).json({ hata: `guncellemeSonrasiUtc '${q.guncellemeSonrasiUtc}' ISO 8601 olmalı (ör. 2026-01-13T07:00:00Z)` });
        return;
      }
      records = records.filter((r) => r.updatedAt > after.toMillis());
    }
    if (q.imlec) {
      const [at, key] = JSON.parse(Buffer.from(q.imlec, 'base64url').toString('utf8')) as [number, string];
      records = records.filter((r) => r.updatedAt > at || (r.updatedAt === at && r.key > key));
    }
    const skip = q.sayfa !== undefined ? (Math.max(Number(q.sayfa) || 1, 1) - 1) * size : q.atla !== undefined ? Math.max(Number(q.atla) || 0, 0) : 0;
    records = records.slice(skip);
    const page = records.slice(0, size);
    const last = page.at(-1);
    const next = records.length > size && last ? Buffer.from(JSON.stringify([last.updatedAt, last.key])).toString('base64url') : null;
    if (next) {
      const link = new URL(req.originalUrl, `http://${req.header('host')}`);
      link.searchParams.delete('sayfa');
      link.searchParams.delete('atla');
      link.searchParams.set('imlec', next);
      link.searchParams.set('adet', String(size));
      res.set('Link', `<${link.pathname}${link.search}>; rel="next", <${link.pathname}>; rel="first"`);
    }
    this.requests.push({
      stream,
      status: 200,
      records: page.length,
      at: Date.now(),
      ...(q.guncellemeSonrasi ? { since: q.guncellemeSonrasi } : {}),
      ...(q.guncellemeSonrasiUtc ? { sinceUtc: q.guncellemeSonrasiUtc } : {}),
    });
    res.json({ kayitlar: page.map((r) => r.fields), sonrakiImlec: next, toplam: records.length });
  }

  private csv(req: Request, res: Response): void {
    if (!this.authorized(req, res) || this.fault('urunler.csv', res)) return;
    const quote = (v: unknown) => {
      const s = v === undefined || v === null ? '' : String(v);
      return /[;"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const columns = ['StokKodu', 'UrunAdi', 'Aciklama', 'Aktif', 'GuncellemeTarihi'];
    const lines = [columns.join(';'), ...this.ordered('urunler').map((r) => columns.map((c) => quote(r.fields[c])).join(';'))];
    res.type('text/csv; charset=windows-1254').send(iconv.encode(`${lines.join('\r\n')}\r\n`, 'win1254'));
  }
}

/** Fills the emulator with `count` products, prices and stock rows, changed one second apart from `from`. */
export function seedCatalog(erp: ErpEmulator, count: number, from = Date.UTC(2026, 0, 1)): void {
  for (let i = 1; i <= count; i++) {
    const sku = `STK-${String(i).padStart(5, '0')}`;
    const at = from + i * 1000;
    erp.put('urunler', { StokKodu: sku, UrunAdi: `Ürün ${i} — çay bardağı`, Aciklama: i % 7 === 0 ? 'İnce belli; "özel"\nseri' : '', Aktif: i % 5 === 0 ? 'H' : 'E' }, at);
    erp.put('fiyatlar', { StokKodu: sku, FiyatListesi: 'PERAKENDE', Fiyat: formatTurkishAmount(100_000 + i * 137), ParaBirimi: 'TRY' }, at);
    erp.put('stoklar', { StokKodu: sku, Depo: 'MERKEZ', Miktar: String(i % 40) }, at);
  }
}

/** Fills the emulator with `count` item cards (product, price and stock in one record), changed one second apart from `from`. */
export function seedItemCards(erp: ErpEmulator, count: number, from = Date.UTC(2026, 0, 1)): void {
  for (let i = 1; i <= count; i++) {
    const sku = `MLZ-${String(i).padStart(5, '0')}`;
    erp.put(
      'malzemeler',
      {
        StokKodu: sku,
        UrunAdi: `Malzeme ${i}`,
        Aktif: i % 5 === 0 ? 'H' : 'E',
        Fiyat: formatTurkishAmount(5_000 + i * 11),
        ParaBirimi: 'TRY',
        Depo: 'MERKEZ',
        Miktar: String(i % 30),
      },
      from + i * 1000,
    );
  }
}
