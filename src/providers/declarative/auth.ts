/** Request authentication for declarative providers, including the OAuth2 client-credentials grant. */
import { createHash } from 'node:crypto';
import { renderString } from '../../domain/template.js';
import { GatewayError, InvalidCredentialsError } from '../types.js';
import type { AuthDefinition } from './definition.js';
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
  token: string;
  /** Epoch ms after which the token is refreshed before use. */
  refreshAt: number;
}

/**
 * OAuth2 tokens shared by every client of one factory, keyed per connection and credentials, so a
 * client rebuilt for the same connection reuses the token and rotated credentials never do.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  async get(
    key: string,
    now: number,
    refresh: boolean,
    fetchToken: () => Promise<CachedToken>,
  ): Promise<string> {
    const cached = this.tokens.get(key);
    if (!refresh && cached && now < cached.refreshAt) return cached.token;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetchToken().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const fresh = await pending;
    this.tokens.set(key, fresh);
    return fresh.token;
  }

  peek(key: string): string | undefined {
    return this.tokens.get(key)?.token;
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
  /** Checks a URL against the outbound policy; throws when refused. */
  checkUrl: (url: string) => void;
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
    case 'oauth2_client_credentials':
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

function oauth2Applier(auth: OAuth2Definition, ctx: AuthContext): AuthApplier {
  const render = (tpl: string): string => renderString(tpl, ctx.vars);
  const rawTokenUrl = render(auth.tokenUrl);
  const tokenUrl = rawTokenUrl.startsWith('/') ? ctx.baseUrl + rawTokenUrl : rawTokenUrl;
  ctx.checkUrl(tokenUrl);
  const clientId = render(auth.clientId);
  const clientSecret = render(auth.clientSecret);
  const scope = auth.scope === undefined ? undefined : render(auth.scope);
  const audience = auth.audience === undefined ? undefined : render(auth.audience);
  const fingerprint = createHash('sha256')
    .update(`${tokenUrl}\0${clientId}\0${clientSecret}`)
    .digest('hex')
    .slice(0, 16);
  const cacheKey = `${ctx.connectionKey}:${fingerprint}`;

  const fetchToken = async (): Promise<CachedToken> => {
    const form: Record<string, string> = { grant_type: 'client_credentials' };
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    if (auth.clientAuthentication === 'basic') {
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
      (res.status === 400 && body['error'] === 'invalid_client')
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
      const token = await ctx.tokenCache.get(cacheKey, ctx.now(), refresh, fetchToken);
      headers['authorization'] = `Bearer ${token}`;
    },
    secrets: () => {
      const token = ctx.tokenCache.peek(cacheKey);
      return token ? [clientSecret, token] : [clientSecret];
    },
  };
}
