/** Request authentication for declarative providers, including the OAuth2 client-credentials grant. */
import { createHash } from 'node:crypto';
import { renderString } from '../../domain/template.js';
import { GatewayError, InvalidCredentialsError } from '../types.js';
import { LruCache } from '../lru-cache.js';
import { OutboundUrlError } from '../url-policy.js';
import type { AuthDefinition, OAuth2PasswordDefinition } from './definition.js';
import { formEncode, sendRequest, TransportError, type FetchLike } from './http.js';

export interface AuthApplier {
  /** Adds the auth header(s); `refresh` forces a new OAuth2 token. */
  apply(headers: Record<string, string>, refresh: boolean): Promise<void>;
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

  constructor(maxEntries = 1000) {
    this.tokens = new LruCache(maxEntries);
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
}

/** Refresh this long before expiry: 10% of the lifetime, at most 60 s. */
function refreshMargin(expiresInMs: number): number {
  return Math.min(60_000, expiresInMs / 10);
}

function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Builds the applier for a definition's auth block; renders its templates once per connection. */
export function createAuthApplier(auth: AuthDefinition | OAuth2PasswordDefinition, ctx: AuthContext): AuthApplier {
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
    case 'oauth2_client_credentials':
    case 'oauth2_password':
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

type OAuth2Definition = Extract<AuthDefinition, { type: 'oauth2_client_credentials' }>;

function oauth2Applier(auth: OAuth2Definition | OAuth2PasswordDefinition, ctx: AuthContext): AuthApplier {
  const render = (tpl: string): string => renderString(tpl, ctx.vars);
  const rawTokenUrl = render(auth.tokenUrl);
  const tokenUrl = rawTokenUrl.startsWith('/') ? ctx.baseUrl + rawTokenUrl : rawTokenUrl;
  const clientId = auth.clientId === undefined ? '' : render(auth.clientId);
  const clientSecret = auth.clientSecret === undefined ? '' : render(auth.clientSecret);
  const scope = auth.scope === undefined ? undefined : render(auth.scope);
  const audience = auth.type === 'oauth2_client_credentials' && auth.audience !== undefined ? render(auth.audience) : undefined;
  const user =
    auth.type === 'oauth2_password' ? { username: render(auth.username), password: render(auth.password) } : undefined;
  const fingerprint = createHash('sha256')
    .update(`${tokenUrl}\0${clientId}\0${clientSecret}\0${user?.username ?? ''}\0${user?.password ?? ''}`)
    .digest('hex')
    .slice(0, 16);

  const fetchToken = async (): Promise<Omit<CachedToken, 'fingerprint'>> => {
    const form: Record<string, string> = user
      ? { grant_type: 'password', username: user.username, password: user.password }
      : { grant_type: 'client_credentials' };
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    if (user) {
      if (clientId) form['client_id'] = clientId;
      if (clientSecret) form['client_secret'] = clientSecret;
    } else if (auth.type === 'oauth2_client_credentials' && auth.clientAuthentication === 'basic') {
      headers['authorization'] =
        `Basic ${toBase64(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)}`;
    } else {
      form['client_id'] = clientId;
      form['client_secret'] = clientSecret;
    }
    if (scope) form['scope'] = scope;
    if (audience) form['audience'] = audience;
    let res;
    try {
      res = await sendRequest(
        ctx.fetch,
        { method: 'POST', url: new URL(tokenUrl), headers, body: formEncode(form) },
        ctx.timeoutMs,
      );
    } catch (err) {
      if (err instanceof OutboundUrlError) throw err; // a refused destination stays refused
      // The payment request itself was not sent yet, so any token failure is safe to retry.
      const code = err instanceof TransportError ? err.code : 'network_error';
      throw new GatewayError(
        'retryable',
        'token_unavailable',
        `${ctx.provider}: token endpoint unreachable (${code})`,
      );
    }
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
        `${ctx.provider}: the token endpoint refused the client credentials (HTTP ${res.status})`,
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
    const expiresIn = Number(body['expires_in']);
    const refreshAt =
      Number.isFinite(expiresIn) && expiresIn > 0
        ? ctx.now() + expiresIn * 1000 - refreshMargin(expiresIn * 1000)
        : Number.POSITIVE_INFINITY; // no expiry given: keep it until the provider answers 401
    return { token, refreshAt };
  };

  return {
    refreshable: true,
    apply: async (headers, refresh) => {
      const token = await ctx.tokenCache.get(ctx.connectionKey, fingerprint, ctx.now(), refresh, fetchToken);
      headers['authorization'] = `Bearer ${token}`;
    },
    secrets: () => {
      const token = ctx.tokenCache.peek(ctx.connectionKey, fingerprint);
      return [clientSecret, user?.password ?? '', token ?? ''].filter((s) => s !== '');
    },
  };
}
