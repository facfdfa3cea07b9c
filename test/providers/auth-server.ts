/**
 * A small REST server that authenticates the ways the shared auth types speak, over real HTTP:
 * two API-key headers plus a key parameter, a session login (JSON body → `data.token`, sent back
 * as a bearer header or a `sid` parameter), and an OAuth2 token endpoint that rotates the refresh
 * token on every refresh grant (the old one dies). `GET /contacts/:id` answers a contact (`GET /contacts`
 * a list) to any request that carries one valid credential, 401 otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProviderDefinitionInput } from '../../src/providers/declarative/index.js';

export const ACCOUNT = 'acct_42';
export const API_KEY = 'key_5ecret_value';
export const USER = 'ada';
export const PASSWORD = 'pa55word_secret';

export interface AuthServer {
  url: string;
  logins: number;
  refreshes: { refreshToken: string }[];
  /** The one refresh token the token endpoint accepts now. */
  refreshToken: string;
  /** Every request to /contacts: its auth-bearing parts. */
  calls: { headers: Record<string, string | undefined>; query: Record<string, string> }[];
  /** Forgets every session and access token (they expire server-side). */
  expireTokens(): void;
  /** The login refuses every attempt from now on. */
  refuseLogins: boolean;
  /** Answers 500 to contact reads with the request's auth echoed in the body (a careless API). */
  echoOnError: boolean;
  close(): Promise<void>;
}

const endpoint = (path: string) => ({ method: 'GET' as const, path });

export const API_KEY_AUTH = {
  type: 'api_key',
  headers: { 'X-Account': '{{credentials.accountId}}', 'X-Api-Key': '{{credentials.apiKey}}' },
  query: { key: '{{credentials.apiKey}}' },
};
export const SESSION_AUTH = {
  type: 'session_token',
  login: { method: 'POST', path: '/login', body: { encoding: 'json', template: { user: '{{credentials.username}}', pass: '{{credentials.password}}' } } },
  tokenPath: 'data.token',
  expiresInPath: 'data.ttl',
  apply: { header: 'Authorization', value: 'Bearer {{token}}' },
};
export const REFRESH_AUTH = {
  type: 'oauth2_refresh_token',
  tokenUrl: '{{settings.tokenUrl}}',
  clientId: 'app',
  refreshTokenCredential: 'refreshToken',
};

/** A CRM definition over the server's /api whose auth is `auth`. */
export function authCrmDefinition(auth: Record<string, unknown>): ProviderDefinitionInput {
  return {
    name: 'authcrm',
    displayName: 'Auth CRM',
    version: '1',
    baseUrl: '{{settings.baseUrl}}/api',
    credentials: [
      { name: 'accountId', secret: false, required: false },
      { name: 'apiKey', required: false },
      { name: 'username', secret: false, required: false },
      { name: 'password', required: false },
      { name: 'refreshToken', required: false },
    ],
    settings: [{ name: 'baseUrl' }, { name: 'tokenUrl' }, { name: 'authMethod' }],
    auth,
    errors: { codePath: 'error.code', messagePath: 'error.message' },
    customerSync: {
      record: { id: 'id' },
      fields: { email: 'email' },
      endpoints: {
        create: endpoint('/contacts'),
        update: endpoint('/contacts/{{remoteId}}'),
        delete: endpoint('/contacts/{{remoteId}}'),
        retrieve: endpoint('/contacts/{{remoteId}}'),
      },
      events: { eventId: 'id', type: 'type', kinds: { updated: 'updated' }, remoteId: 'id', occurredAt: 'at' },
    },
  } as unknown as ProviderDefinitionInput;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAuthServer(firstRefreshToken = 'rt-1'): Promise<AuthServer> {
  const sessions = new Set<string>();
  const accessTokens = new Set<string>();
  let issued = 0;
  const state: AuthServer = {
    url: '',
    logins: 0,
    refreshes: [],
    refreshToken: firstRefreshToken,
    calls: [],
    refuseLogins: false,
    echoOnError: false,
    expireTokens: () => {
      sessions.clear();
      accessTokens.clear();
    },
    close: () => Promise.resolve(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await bodyOf(req);
    if (req.method === 'POST' && url.pathname === '/api/login') {
      state.logins += 1;
      const creds = JSON.parse(body || '{}') as { user?: string; pass?: string };
      if (state.refuseLogins || creds.user !== USER || creds.pass !== PASSWORD) return send(res, 401, { error: 'bad login' });
      const token = `sess-${++issued}`;
      sessions.add(token);
      return send(res, 200, { data: { token, ttl: 3600 } });
    }
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const form = new URLSearchParams(body);
      const given = form.get('refresh_token') ?? '';
      state.refreshes.push({ refreshToken: given });
      if (form.get('grant_type') !== 'refresh_token' || form.get('client_id') !== 'app') return send(res, 400, { error: 'unsupported' });
      if (given !== state.refreshToken) return send(res, 400, { error: 'invalid_grant' });
      const access = `at-${++issued}`;
      accessTokens.add(access);
      state.refreshToken = `rt-${issued + 1}`;
      return send(res, 200, { access_token: access, token_type: 'bearer', expires_in: 3600, refresh_token: state.refreshToken });
    }
    const contact = /^\/api\/contacts(?:\/([^/]+))?$/.exec(url.pathname);
    if (req.method === 'GET' && contact) {
      const headers = { 'x-account': req.headers['x-account'] as string | undefined, 'x-api-key': req.headers['x-api-key'] as string | undefined, authorization: req.headers.authorization };
      const query = Object.fromEntries(url.searchParams);
      state.calls.push({ headers, query });
      const bearer = headers.authorization?.replace(/^Bearer /, '') ?? '';
      const ok =
        (headers['x-account'] === ACCOUNT && headers['x-api-key'] === API_KEY && query['key'] === API_KEY) ||
        sessions.has(bearer) ||
        sessions.has(query['sid'] ?? '') ||
        accessTokens.has(bearer);
      if (!ok) return send(res, 401, { error: { code: 'unauthorized' } });
      if (state.echoOnError) return send(res, 500, { error: { code: 'boom', message: `failed for ${JSON.stringify({ headers, query })}` } });
      // Without an id: the list (what an ERP stream reads).
      if (contact[1] === undefined) return send(res, 200, [{ id: 'c1' }, { id: 'c2' }]);
      return send(res, 200, { id: contact[1], email: `${contact[1]}@example.com` });
    }
    return send(res, 404, { error: { code: 'not_found' } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: { code: 'server' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return state;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
