/**
 * A small REST server that pages one collection of contacts in every style the shared paginators
 * read (cursor in the body or a header, next URL in the body or a header, RFC 8288 Link header,
 * page number with a page count, offset with a total), over real HTTP. `/api/<n>/...` serves a
 * collection of n records; `modified_after` (dd.MM.yyyy HH:mm:ss, Europe/Istanbul) filters them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';

export interface PagingServer {
  url: string;
  /** Every request's path and query, in order. */
  requests: string[];
  /** Marks record `id` modified at `atMs`. */
  touch(id: string, atMs: number): void;
  close(): Promise<void>;
}

interface Contact {
  id: string;
  email: string;
  modifiedAt: number;
}

const PAGE = 10;
export const MODIFIED_FORMAT = 'dd.MM.yyyy HH:mm:ss';
export const MODIFIED_ZONE = 'Europe/Istanbul';

export async function startPagingServer(): Promise<PagingServer> {
  const requests: string[] = [];
  const modified = new Map<string, number>();
  const contactsOf = (n: number): Contact[] =>
    Array.from({ length: n }, (_, i) => {
      const id = `c${String(i + 1).padStart(2, '0')}`;
      return { id, email: `${id}@example.com`, modifiedAt: modified.get(id) ?? Date.UTC(2026, 0, 1) };
    });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname + url.search);
    const match = /^\/api\/(\d+)\/([a-z-]+)$/.exec(url.pathname);
    if (!match) return send(res, 404, { error: 'no route' });
    let all = contactsOf(Number(match[1]));
    const after = url.searchParams.get('modified_after');
    if (after !== null) {
      const since = DateTime.fromFormat(after, MODIFIED_FORMAT, { zone: MODIFIED_ZONE });
      if (!since.isValid) return send(res, 400, { error: 'bad modified_after' });
      all = all.filter((c) => c.modifiedAt > since.toMillis());
    }
    const q = (name: string, fallback: number): number => Number(url.searchParams.get(name) ?? fallback);
    const slice = (from: number, size = PAGE) => all.slice(from, from + size);
    const items = (from: number, size = PAGE) => slice(from, size).map(({ id, email }) => ({ id, email }));
    const more = (from: number, size = PAGE) => from + size < all.length;
    switch (match[2]) {
      case 'cursor-body': {
        const from = q('after', 0);
        return send(res, 200, { items: items(from), next: more(from) ? String(from + PAGE) : null });
      }
      case 'cursor-header': {
        const from = q('after', 0);
        return send(res, 200, { items: items(from) }, more(from) ? { 'x-next-cursor': String(from + PAGE) } : {});
      }
      case 'next-body': {
        const from = q('from', 0);
        // Absolute next URLs, as many APIs send them.
        const host = req.headers.host ?? '';
        return send(res, 200, { items: items(from), links: { next: more(from) ? `http://${host}${url.pathname}?from=${from + PAGE}` : null } });
      }
      case 'next-header': {
        const from = q('from', 0);
        // A relative reference holding only a query: resolved against the page's own URL.
        return send(res, 200, { items: items(from) }, more(from) ? { 'x-next-page': `?from=${from + PAGE}` } : {});
      }
      case 'link': {
        const from = q('from', 0);
        // Several links, a quoted title with a comma and a semicolon, and a relative next target.
        const links = [`</api/${match[1]}/link?from=0>; rel="first"; title="first, page"`];
        if (more(from)) links.push(`<link?from=${from + PAGE}>; title="next; page"; rel="next"`);
        return send(res, 200, { items: items(from) }, { link: links.join(', ') });
      }
      case 'link-away':
        return send(res, 200, { items: items(0) }, { link: '<http://elsewhere.example/api/steal?from=10>; rel=next' });
      case 'page': {
        const page = q('page', 1);
        const size = q('per_page', PAGE);
        return send(res, 200, { items: items((page - 1) * size, size), meta: { pages: Math.ceil(all.length / size) } });
      }
      case 'offset': {
        const from = q('offset', 0);
        const size = q('limit', PAGE);
        return send(res, 200, { items: items(from, size), total: all.length });
      }
      case 'loop':
        // Always the same next cursor: a reader that follows it would never end.
        return send(res, 200, { items: items(0), next: 'again' });
      default:
        return send(res, 404, { error: 'no route' });
    }
  }

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    touch: (id, atMs) => void modified.set(id, atMs),
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
