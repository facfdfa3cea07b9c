/**
 * Runtime of ERP connectors: a source yields pages of raw records from a position, and says where
 * the next page starts. Positions are opaque strings stored in the run's checkpoint.
 */
import type { ErpWatermark } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { applyStep, TransformError } from '../../domain/erp/transformations.js';
import { renderString } from '../../domain/template.js';
import { AuthConfigurationError, createAuthApplier, TokenCache, type AuthApplier, type AuthContext } from '../declarative/outbound-auth.js';
import { sendRequest, TransportError, type FetchLike, type IncomingResponse, type OutgoingRequest } from '../declarative/http.js';
import { errorActionOf, ruleMessage, type ErrorActionRule } from '../declarative/error-rules.js';
import { rateLimitDelayOf } from '../retry-after.js';
import { checkOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../url-policy.js';
import type { ErpConnector, IncrementalSpec } from './connector-definition.js';
import { ErpConfigurationError, ErpIgnoredAnswer, ErpRateLimitedError, ErpUnavailableError } from './source-errors.js';

export interface SourcePage {
  records: unknown[];
  /** Position of the following page; null when this was the last one. */
  next: string | null;
}

export interface ErpSource {
  readonly kind: ErpConnector['type'];
  /** Pages of one entity from `position` (null = the start); `since` asks for changes only. */
  pages(entity: ErpEntity, position: string | null, since?: ErpWatermark): AsyncIterable<SourcePage>;
  /** The change time and key of a record, when the stream declares an incremental cursor. */
  version(entity: ErpEntity, record: unknown): ErpWatermark | undefined;
}

export { ErpConfigurationError, ErpIgnoredAnswer, ErpRateLimitedError, ErpUnavailableError };

/**
 * Caps on what one tenant's source may make a shared worker hold (settings ERP_MAX_*, defaults
 * below). A REST page is also capped in bytes by the egress guard (EGRESS_MAX_RESPONSE_BYTES).
 */
export interface ErpSourceLimits {
  /** CSV: a larger row fails the run (where it ends cannot be known without reading it whole). */
  maxRecordBytes: number;
  /** CSV: a row with a larger field is dead-lettered (the field cut to its first KiB). */
  maxFieldBytes: number;
  /** CSV: a page is committed at pageSize rows or at this many bytes of the file, whichever comes first. */
  maxPageBytes: number;
  /** REST: a page with more records fails the run (a 5 MB answer can hold a million tiny records). */
  maxPageRecords: number;
  /** CSV: a gzip export or upload that inflates past this many bytes fails the run (a zip bomb). */
  maxDecompressedBytes: number;
}

/**
 * 1 MiB rows: a catalog or order row is a few KiB even with long descriptions, and csv-parse holds
 * one row (plus a page of them) in memory. 256 KiB fields: a description or an embedded document
 * fragment fits, a file smuggled into a cell does not. 16 MiB pages: two pages (one committing, one
 * read ahead) stay within a few tens of MB of a worker shared by every tenant. 20,000 records: the
 * largest CSV page, 20× the largest page size a REST paginator may ask for; a page is one
 * transaction, and 20,000 rows that all fail to map take about 15 s to dead-letter. 512 MiB
 * inflated: the largest plain file an upload may be (ERP_UPLOAD_MAX_BYTES), read as a stream in
 * constant memory; a real export inflates 5-20 times, a zip bomb a thousand times and more.
 */
export const DEFAULT_ERP_SOURCE_LIMITS: ErpSourceLimits = {
  maxRecordBytes: 1024 * 1024,
  maxFieldBytes: 256 * 1024,
  maxPageBytes: 16 * 1024 * 1024,
  maxPageRecords: 20_000,
  maxDecompressedBytes: 512 * 1024 * 1024,
};

export interface ErpSourceContext {
  tenantId: string;
  integrationId: string;
  credentials: Record<string, string>;
  settings: Record<string, unknown>;
  /** The single egress path (guarded fetch), injected at composition. */
  fetch: FetchLike;
  urlPolicy: OutboundUrlPolicy;
  tokenCache: TokenCache;
  now?: () => number;
  /** Files uploaded to this integration (CSV streams with `upload: true`). */
  uploads?: UploadedFiles;
  /** Default: DEFAULT_ERP_SOURCE_LIMITS. */
  limits?: ErpSourceLimits;
  /** Stores changed credentials on the integration, sealed (a rotated OAuth2 refresh token). */
  storeCredentials?: (changed: Record<string, string>) => Promise<void>;
}

export interface UploadedFiles {
  /** Id of the newest complete upload for the entity, or null. */
  latest(entity: ErpEntity): Promise<string | null>;
  /** The bytes of an upload, streamed, from byte `fromByte` (default 0). */
  read(uploadId: string, fromByte?: number): AsyncIterable<Buffer>;
}

/** The shared HTTP client of both connectors: auth (with one token refresh on 401), errors by class. */
export class ErpHttp {
  readonly baseUrl: string;
  private readonly auth: AuthApplier | undefined;
  readonly vars: { credentials: Record<string, string>; settings: Record<string, unknown> };

  constructor(
    private readonly ctx: ErpSourceContext,
    connector: { baseUrl?: string | undefined; auth?: ErpConnector['auth']; timeoutMs: number },
    readonly timeoutMs = connector.timeoutMs,
  ) {
    this.vars = { credentials: ctx.credentials, settings: ctx.settings };
    this.baseUrl = connector.baseUrl ? renderString(connector.baseUrl, this.vars).replace(/\/+$/, '') : '';
    if (this.baseUrl) this.checkUrl(this.baseUrl);
    this.auth = connector.auth
      ? authApplierOf(connector.auth, {
          provider: `integration ${ctx.integrationId}`,
          connectionKey: `${ctx.tenantId}/${ctx.integrationId}`,
          baseUrl: this.baseUrl,
          vars: this.vars,
          fetch: ctx.fetch,
          timeoutMs: this.timeoutMs,
          now: ctx.now ?? Date.now,
          tokenCache: ctx.tokenCache,
          ...(ctx.storeCredentials ? { storeCredentials: ctx.storeCredentials } : {}),
        })
      : undefined;
  }

  checkUrl(url: string): URL {
    return checkOutboundUrl(url, this.ctx.urlPolicy);
  }

  /** Resolves a path against baseUrl (refusing to leave its origin) or checks an absolute URL. */
  resolve(urlOrPath: string): URL {
    if (urlOrPath.startsWith('/')) {
      if (!this.baseUrl) throw new ErpConfigurationError(`'${urlOrPath}' is relative but the connector has no baseUrl`);
      const url = new URL(this.baseUrl + urlOrPath);
      if (url.origin !== new URL(this.baseUrl).origin) throw new ErpConfigurationError(`'${urlOrPath}' leaves baseUrl`);
      return url;
    }
    return this.checkUrl(urlOrPath);
  }

  /** GET with auth; returns 2xx answers, throws a classified error otherwise. */
  async get(url: URL, stream = false): Promise<IncomingResponse | Response> {
    return this.send(url, { method: 'GET' }, stream);
  }

  /** A request with auth (its `headers` already rendered); returns 2xx answers, throws a classified error otherwise. */
  async send(
    url: URL,
    init: { method: string; accept?: string; headers?: Record<string, string>; body?: string; onError?: readonly ErrorActionRule[] | undefined },
    stream = false,
  ): Promise<IncomingResponse | Response> {
    for (let refresh = false; ; refresh = true) {
      const headers: Record<string, string> = { accept: init.accept ?? (stream ? 'text/csv, */*' : 'application/json'), ...init.headers };
      const authorized = new URL(url);
      await this.auth?.apply(headers, refresh, authorized);
      const req: OutgoingRequest = { method: init.method, url: authorized, headers, ...(init.body !== undefined ? { body: init.body } : {}) };
      let res: IncomingResponse | Response;
      try {
        res = stream ? await this.fetchStream(req) : await sendRequest(this.ctx.fetch, req, this.timeoutMs);
      } catch (err) {
        // An answer over the egress size cap would be as large again on a retry: fix the page size.
        if (err instanceof TransportError && err.code === 'response_too_large') {
          throw new ErpConfigurationError(`the ERP's answer to ${url.pathname} is too large: ${err.message} (EGRESS_MAX_RESPONSE_BYTES); ask for smaller pages`);
        }
        if (err instanceof TransportError) throw new ErpUnavailableError(`ERP unreachable: ${err.message}`);
        throw err;
      }
      // A CSV download's body is a stream, not read here: its rules match by status only.
      const rule = errorActionOf(init.onError, res.status, stream ? undefined : (res as IncomingResponse).body);
      if ((res.status === 401 || rule?.action === 'refresh_auth') && this.auth?.refreshable && !refresh) continue;
      if (!rule && res.status >= 200 && res.status < 300) return res;
      if (stream) await (res as Response).body?.cancel();
      if (rule) throw this.ruleError(rule, res, url);
      if (res.status === 429) throw new ErpRateLimitedError(rateLimitDelayOf((h) => res.headers.get(h), (this.ctx.now ?? Date.now)()) ?? 1000);
      if (res.status >= 500 || res.status === 408) throw new ErpUnavailableError(`ERP answered HTTP ${res.status}`);
      throw new ErpConfigurationError(`ERP refused ${url.pathname} with HTTP ${res.status}`);
    }
  }

  /** What an `onError` rule makes of an answer. */
  private ruleError(rule: ErrorActionRule, res: IncomingResponse | Response, url: URL): Error {
    const text = `${url.pathname}: ${ruleMessage(rule, res.status)}`;
    switch (rule.action) {
      case 'ignore':
        return new ErpIgnoredAnswer(text);
      case 'retry':
        return new ErpUnavailableError(`ERP failed on ${text}`);
      case 'rate_limited':
        return new ErpRateLimitedError(rateLimitDelayOf((h) => res.headers.get(h), (this.ctx.now ?? Date.now)()) ?? 1000);
      case 'refresh_auth':
        return new ErpConfigurationError(
          this.auth?.refreshable
            ? `ERP still refused ${text} with fresh credentials`
            : `ERP refused ${text}, and its auth has no token to fetch again (refresh_auth needs oauth2 or session_token)`,
        );
      case 'fail':
        return new ErpConfigurationError(`ERP refused ${text}`);
    }
  }

  private async fetchStream(req: OutgoingRequest): Promise<Response> {
    // The body is read as a stream by the caller, so only the connection phase is timed out here.
    try {
      return await this.ctx.fetch(req.url, { method: 'GET', headers: req.headers, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      if (err instanceof OutboundUrlError) throw err; // a refused destination stays refused, never "unreachable"
      throw new ErpUnavailableError(`ERP unreachable: ${(err as Error).message}`);
    }
  }
}

/** The auth applier; an auth block that cannot work here (e.g. `select` naming no option) is a configuration error of the integration. */
function authApplierOf(auth: NonNullable<ErpConnector['auth']>, ctx: AuthContext): AuthApplier {
  try {
    return createAuthApplier(auth, ctx);
  } catch (err) {
    if (err instanceof AuthConfigurationError) throw new ErpConfigurationError(err.message);
    throw err;
  }
}

/** Reads a record's change time (UTC ISO) and key with the same date rules as mappings. */
export function recordVersion(spec: IncrementalSpec | undefined, record: unknown): ErpWatermark | undefined {
  if (!spec || record === null || typeof record !== 'object') return undefined;
  const fields = record as Record<string, unknown>;
  const raw = fields[spec.cursorField];
  const key = fields[spec.keyField];
  if (raw === undefined || raw === null || raw === '' || key === undefined || key === null) return undefined;
  try {
    const at = applyStep({ type: 'date', zone: spec.zone, output: 'datetime', ...(spec.format ? { format: spec.format } : {}) }, raw, {
      read: (f) => fields[f],
    });
    return { watermark: String(at), key: String(key) };
  } catch (err) {
    if (err instanceof TransformError) return undefined;
    throw err;
  }
}

/** Total order of versions: change time, then key. */
export function compareVersions(a: ErpWatermark, b: ErpWatermark): number {
  const t = Date.parse(a.watermark) - Date.parse(b.watermark);
  if (t !== 0) return t;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

