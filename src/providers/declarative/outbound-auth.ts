/**
 * Request authentication of every declarative runtime (gateways, CRM targets, ERP connectors):
 * static headers and keys, OAuth2 grants (client credentials, password, refresh token), session
 * tokens from a login request, and a selector among several.
 */
import { createHash } from 'node:crypto';
import { readPath, renderString } from '../../domain/template.js';
import { GatewayError, InvalidCredentialsError } from '../types.js';
import { LruCache } from '../lru-cache.js';
import { OutboundUrlError } from '../url-policy.js';
import type { AuthDefinition } from './definition.js';
import { buildRequest, formEncode, sendRequest, TransportError, type FetchLike, type IncomingResponse, type OutgoingRequest } from './http.js';

export interface AuthApplier {
  /** Adds the auth headers and query parameters (to `url`); `refresh` forces a new token. */
  apply(headers: Record<string, string>, refresh: boolean, url: URL): Promise<void>;
  /** True when a 401 may be cured by fetching a new token (then the request is retried once). */
  readonly refreshable: boolean;
  /** Secret values this applier puts on the wire, for redaction of error messages. */
  secrets(): string[];
}

interface CachedToken {
  /** Hash of token URL and client credentials: rotated credentials never reuse an old token. */
  fingerprint: string;
  token: string;
  /** Epoch ms after which the token is refreshed before use. */
  refreshAt: number;
}

/**
 * OAuth2 tokens shared by every client of one factory: one per connection, so a client rebuilt for
 * the same connection reuses the token, rotated credentials replace it (their fingerprint differs),
 * and at most `maxEntries` connections are kept (least recently used dropped).
 */
export class TokenCache {
  private readonly tokens: LruCache<string, CachedToken>;
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** Per connection, the last refresh-token rotation seen (the stored credentials may lag behind it). */
  private readonly rotations: LruCache<string, { from: string; to: string }>;

  constructor(maxEntries = 1000) {
    this.tokens = new LruCache(maxEntries);
    this.rotations = new LruCache(maxEntries);
  }

  /**
   * The refresh token to use: the rotated one when `stored` is the token it replaced (or itself),
   * else `stored` (a token set on the connection since replaces the chain).
   */
  refreshToken(connectionKey: string, stored: string): string {
    const rotation = this.rotations.get(connectionKey);
    return rotation && (rotation.from === stored || rotation.to === stored) ? rotation.to : stored;
  }

  rotated(connectionKey: string, from: string, to: string): void {
    this.rotations.set(connectionKey, { from, to });
  }

  async get(
    connectionKey: string,
    fingerprint: string,
    now: number,
    refresh: boolean,
    fetchToken: () => Promise<Omit<CachedToken, 'fingerprint'>>,
  ): Promise<string> {
    const cached = this.peekEntry(connectionKey, fingerprint);
    if (!refresh && cached && now < cached.refreshAt) return cached.token;
    const flight = `${connectionKey}:${fingerprint}`;
    let pending = this.inflight.get(flight);
    if (!pending) {
      pending = fetchToken()
        .then((t) => ({ ...t, fingerprint }))
        .finally(() => this.inflight.delete(flight));
      this.inflight.set(flight, pending);
    }
    const fresh = await pending;
    this.tokens.set(connectionKey, fresh);
    return fresh.token;
  }

  peek(connectionKey: string, fingerprint: string): string | undefined {
    return this.peekEntry(connectionKey, fingerprint)?.token;
  }

  /** Connections with a cached token. */
  get size(): number {
    return this.tokens.size;
  }

  private peekEntry(connectionKey: string, fingerprint: string): CachedToken | undefined {
    const entry = this.tokens.get(connectionKey);
    return entry?.fingerprint === fingerprint ? entry : undefined;
  }
}

export interface AuthContext {
  provider: string;
  connectionKey: string;
  baseUrl: string;
  vars: { credentials: Record<string, string>; settings: Record<string, unknown> };
  fetch: FetchLike;
  timeoutMs: number;
  now: () => number;
  tokenCache: TokenCache;
  /**
   * Stores changed credentials of the connection (sealed, like the others): a refresh token the
   * token endpoint rotated. Every runtime that loads a stored connection passes it.
   */
  storeCredentials?: (changed: Record<string, string>) => Promise<void>;
}

/**
 * The auth block cannot work for this connection (`auth.select` names an option the definition does
 * not have; a login path without a base URL): its settings or definition must change, no retry helps.
 */
export class AuthConfigurationError extends Error {
  override readonly name = 'AuthConfigurationError';
}

/** Refresh this long before expiry: 10% of the lifetime, at most 60 s. */
function refreshMargin(expiresInMs: number): number {
  return Math.min(60_000, expiresInMs / 10);
}

function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Builds the applier for a definition's auth block; renders its templates once per connection. */
export function createAuthApplier(auth: AuthDefinition, ctx: AuthContext): AuthApplier {
  const render = (tpl: string): string => renderString(tpl, ctx.vars);
  switch (auth.type) {
    case 'basic': {
      const username = render(auth.username);
      const password = render(auth.password);
      const value = `Basic ${toBase64(`${username}:${password}`)}`;
      return staticHeader('authorization', value, [password, value]);
    }
    case 'bearer': {
      const token = render(auth.token);
      return staticHeader('authorization', `Bearer ${token}`, [token]);
    }
    case 'header': {
      const value = render(auth.value);
      return staticHeader(auth.name.toLowerCase(), value, [value]);
    }
    case 'api_key': {
      const headers = Object.entries(auth.headers ?? {}).map(([name, tpl]) => [name.toLowerCase(), render(tpl)] as const);
      const query = Object.entries(auth.query ?? {}).map(([name, tpl]) => [name, render(tpl)] as const);
      return {
        refreshable: false,
        apply: (out, _refresh, url) => {
          for (const [name, value] of headers) out[name] = value;
          for (const [name, value] of query) url.searchParams.set(name, value);
          return Promise.resolve();
        },
        secrets: () => [...headers, ...query].map(([, value]) => value),
      };
    }
    case 'select': {
      const chosen = render(auth.by);
      if (!Object.hasOwn(auth.options, chosen)) {
        throw new AuthConfigurationError(
          `${ctx.provider}: auth.by is '${chosen}', which is not one of the auth options (${Object.keys(auth.options).join(', ')})`,
        );
      }
      return createAuthApplier(auth.options[chosen]!, ctx);
    }
    case 'session_token':
      return sessionApplier(auth, ctx);
    case 'oauth2_client_credentials':
    case 'oauth2_password':
    case 'oauth2_refresh_token':
      return oauth2Applier(auth, ctx);
  }
}

function staticHeader(name: string, value: string, secrets: string[]): AuthApplier {
  return {
    refreshable: false,
    apply: (headers) => {
      headers[name] = value;
      return Promise.resolve();
    },
    secrets: () => secrets,
  };
}

type OAuth2Definition = Extract<AuthDefinition, { type: 'oauth2_client_credentials' | 'oauth2_password' | 'oauth2_refresh_token' }>;
type SessionDefinition = Extract<AuthDefinition, { type: 'session_token' }>;

/**
 * Sends a token or login request. The request it authorizes was not sent yet, so an unreachable
 * endpoint is retryable; a refused destination stays refused.
 */
async function tokenRequest(ctx: AuthContext, req: OutgoingRequest, what: string): Promise<IncomingResponse> {
  try {
    return await sendRequest(ctx.fetch, req, ctx.timeoutMs);
  } catch (err) {
    if (err instanceof OutboundUrlError) throw err;
    const code = err instanceof TransportError ? err.code : 'network_error';
    throw new GatewayError('retryable', 'token_unavailable', `${ctx.provider}: ${what} unreachable (${code})`);
  }
}

/** Epoch ms at which a token living `seconds` (unknown: until a 401) is fetched again. */
function refreshAtOf(ctx: AuthContext, seconds: number | undefined): number {
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0
    ? ctx.now() + seconds * 1000 - refreshMargin(seconds * 1000)
    : Number.POSITIVE_INFINITY;
}

function oauth2Applier(auth: OAuth2Definition, ctx: AuthContext): AuthApplier {
  const render = (tpl: string): string => renderString(tpl, ctx.vars);
  const rawTokenUrl = render(auth.tokenUrl);
  const tokenUrl = rawTokenUrl.startsWith('/') ? ctx.baseUrl + rawTokenUrl : rawTokenUrl;
  const clientId = auth.clientId === undefined ? '' : render(auth.clientId);
  const clientSecret = auth.clientSecret === undefined ? '' : render(auth.clientSecret);
  const scope = auth.scope === undefined ? undefined : render(auth.scope);
  const audience = auth.type === 'oauth2_client_credentials' && auth.audience !== undefined ? render(auth.audience) : undefined;
  const user =
    auth.type === 'oauth2_password' ? { username: render(auth.username), password: render(auth.password) } : undefined;
  const refreshCredential = auth.type === 'oauth2_refresh_token' ? auth.refreshTokenCredential : undefined;
  const storedRefreshToken = refreshCredential === undefined ? '' : (ctx.vars.credentials[refreshCredential] ?? '');
  // The refresh token is left out: it rotates, and the access token it got stays good meanwhile.
  const fingerprint = createHash('sha256')
    .update(`${tokenUrl}\0${clientId}\0${clientSecret}\0${user?.username ?? ''}\0${user?.password ?? ''}\0${refreshCredential ?? ''}`)
    .digest('hex')
    .slice(0, 16);

  const fetchToken = async (): Promise<Omit<CachedToken, 'fingerprint'>> => {
    const refreshToken = refreshCredential === undefined ? '' : ctx.tokenCache.refreshToken(ctx.connectionKey, storedRefreshToken);
    const form: Record<string, string> = user
      ? { grant_type: 'password', username: user.username, password: user.password }
      : refreshCredential !== undefined
        ? { grant_type: 'refresh_token', refresh_token: refreshToken }
        : { grant_type: 'client_credentials' };
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    if (user) {
      if (clientId) form['client_id'] = clientId;
      if (clientSecret) form['client_secret'] = clientSecret;
    } else if (auth.type !== 'oauth2_password' && auth.clientAuthentication === 'basic') {
      headers['authorization'] =
        `Basic ${toBase64(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)}`;
    } else {
      form['client_id'] = clientId;
      if (clientSecret || auth.type === 'oauth2_client_credentials') form['client_secret'] = clientSecret;
    }
    if (scope) form['scope'] = scope;
    if (audience) form['audience'] = audience;
    const res = await tokenRequest(
      ctx,
      { method: 'POST', url: new URL(tokenUrl), headers, body: formEncode(form) },
      'token endpoint',
    );
    const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<
      string,
      unknown
    >;
    if (
      res.status === 401 ||
      res.status === 403 ||
      (res.status === 400 && (body['error'] === 'invalid_client' || body['error'] === 'invalid_grant'))
    ) {
      throw new InvalidCredentialsError(
        `${ctx.provider}: the token endpoint refused the ${refreshCredential !== undefined ? 'refresh token' : 'client credentials'} (HTTP ${res.status})`,
      );
    }
    const token = body['access_token'];
    if (res.status < 200 || res.status >= 300 || typeof token !== 'string' || token === '') {
      throw new GatewayError(
        'retryable',
        'token_unavailable',
        `${ctx.provider}: no access token (HTTP ${res.status})`,
        res.status,
      );
    }
    const rotated = body['refresh_token'];
    if (refreshCredential !== undefined && typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken) {
      // The old refresh token may be dead already: remember the new one before anything can fail.
      ctx.tokenCache.rotated(ctx.connectionKey, refreshToken, rotated);
      try {
        await ctx.storeCredentials?.({ [refreshCredential]: rotated });
      } catch {
        throw new GatewayError('retryable', 'credential_store_failed', `${ctx.provider}: the rotated refresh token could not be stored`);
      }
    }
    return { token, refreshAt: refreshAtOf(ctx, Number(body['expires_in'])) };
  };

  return {
    refreshable: true,
    apply: async (headers, refresh) => {
      const token = await ctx.tokenCache.get(ctx.connectionKey, fingerprint, ctx.now(), refresh, fetchToken);
      headers['authorization'] = `Bearer ${token}`;
    },
    secrets: () => {
      const token = ctx.tokenCache.peek(ctx.connectionKey, fingerprint);
      const refreshTokens =
        refreshCredential === undefined ? [] : [storedRefreshToken, ctx.tokenCache.refreshToken(ctx.connectionKey, storedRefreshToken)];
      return [clientSecret, user?.password ?? '', token ?? '', ...refreshTokens].filter((s) => s !== '');
    },
  };
}

/** A login request whose answer holds a token, cached per connection for its lifetime. */
function sessionApplier(auth: SessionDefinition, ctx: AuthContext): AuthApplier {
  if (!ctx.baseUrl) throw new AuthConfigurationError(`${ctx.provider}: session_token logs in at a path, which needs a baseUrl`);
  const login = buildRequest(ctx.baseUrl, { method: auth.login.method, path: auth.login.path, headers: auth.login.headers, body: auth.login.body }, ctx.vars);
  const fingerprint = createHash('sha256')
    .update(`${login.method}\0${login.url.toString()}\0${JSON.stringify(login.headers)}\0${login.body ?? ''}`)
    .digest('hex')
    .slice(0, 16);
  const valueOf = (token: string): string => renderString(auth.apply.value, { token });

  const fetchToken = async (): Promise<Omit<CachedToken, 'fingerprint'>> => {
    const res = await tokenRequest(ctx, login, 'login');
    if (res.status === 401 || res.status === 403) {
      throw new InvalidCredentialsError(`${ctx.provider}: the login was refused (HTTP ${res.status})`);
    }
    const raw = readPath(res.body, auth.tokenPath);
    const token = typeof raw === 'number' ? String(raw) : raw;
    if (res.status < 200 || res.status >= 300 || typeof token !== 'string' || token === '') {
      throw new GatewayError('retryable', 'token_unavailable', `${ctx.provider}: no session token at '${auth.tokenPath}' (HTTP ${res.status})`, res.status);
    }
    const expiresIn = auth.expiresInPath === undefined ? undefined : Number(readPath(res.body, auth.expiresInPath));
    return { token, refreshAt: refreshAtOf(ctx, Number.isFinite(expiresIn) && expiresIn! > 0 ? expiresIn : auth.lifetimeSeconds) };
  };

  return {
    refreshable: true,
    apply: async (headers, refresh, url) => {
      const value = valueOf(await ctx.tokenCache.get(ctx.connectionKey, fingerprint, ctx.now(), refresh, fetchToken));
      if ('header' in auth.apply) headers[auth.apply.header.toLowerCase()] = value;
      else url.searchParams.set(auth.apply.query, value);
    },
    secrets: () => {
      const token = ctx.tokenCache.peek(ctx.connectionKey, fingerprint);
      return token ? [token, valueOf(token)] : [];
    },
  };
}
