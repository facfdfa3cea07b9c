/** The declarative REST ERP connector: streams of JSON or XML records, paged and filtered as the definition says. */
import { DateTime } from 'luxon';
import type { ErpWatermark } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { readPath, renderString } from '../../domain/template.js';
import { buildRequest, type IncomingResponse } from '../declarative/http.js';
import type { RestConnector, RestStream } from './connector-definition.js';
import { readAnswer, renderBody } from './rest-request.js';
import {
  DEFAULT_ERP_SOURCE_LIMITS,
  ErpConfigurationError,
  ErpHttp,
  recordVersion,
  type ErpSource,
  type ErpSourceContext,
  type SourcePage,
} from './source.js';

/** The rel="next" target of an RFC 8288 Link header. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*((?:;[^;]*)*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?/i.test(match[2] ?? '')) return match[1] ?? null;
  }
  return null;
}

export function createRestSource(connector: RestConnector, ctx: ErpSourceContext): ErpSource {
  const http = new ErpHttp(ctx, connector);
  const { maxPageRecords } = ctx.limits ?? DEFAULT_ERP_SOURCE_LIMITS;

  function streamOf(entity: ErpEntity): RestStream {
    const stream = connector.streams[entity];
    if (!stream) throw new ErpConfigurationError(`the connector has no stream for ${entity}`);
    return stream;
  }

  function pageUrl(stream: RestStream, position: string | null, since: ErpWatermark | undefined): URL {
    const p = stream.pagination;
    if (p.type === 'link' && position) {
      // The ERP hands out the next URL; it must stay on the configured origin.
      const url = http.checkUrl(new URL(position, http.baseUrl).toString());
      if (url.origin !== new URL(http.baseUrl).origin) throw new ErpConfigurationError('Link header points away from baseUrl');
      return url;
    }
    const { url } = buildRequest(http.baseUrl, { method: 'GET', path: stream.path, query: stream.query }, http.vars);
    if (since && stream.incremental?.param) {
      const at = DateTime.fromISO(since.watermark, { zone: 'utc' }).setZone(stream.incremental.zone);
      url.searchParams.set(stream.incremental.param, stream.incremental.format ? at.toFormat(stream.incremental.format) : at.toISO()!);
    }
    if (p.type === 'cursor' && position) url.searchParams.set(p.param, position);
    if (p.type === 'page' || p.type === 'offset') {
      url.searchParams.set(p.param, position ?? String(p.type === 'page' ? p.startAt : 0));
      if (p.sizeParam) url.searchParams.set(p.sizeParam, String(p.size));
    }
    return url;
  }

  /** Method, headers and body of a page's request (the body sees the page's query parameters). */
  function requestOf(stream: RestStream, url: URL) {
    const headers = Object.fromEntries(Object.entries(stream.headers ?? {}).map(([name, tpl]) => [name.toLowerCase(), renderString(tpl, http.vars)]));
    const body = renderBody(stream, http.vars, url);
    if (body) headers['content-type'] = body.contentType;
    // Unset, JSON is asked for as before; an ERP that answers XML anyway is read by its Content-Type.
    const accept = stream.format === 'xml' ? 'application/xml, text/xml, application/soap+xml' : 'application/json';
    return { method: stream.method ?? 'GET', accept, headers, ...(body ? { body: body.body } : {}) };
  }

  function nextPosition(stream: RestStream, position: string | null, res: IncomingResponse, count: number): string | null {
    const p = stream.pagination;
    switch (p.type) {
      case 'none':
        return null;
      case 'cursor': {
        const next = readPath(res.body, p.cursorPath);
        return typeof next === 'string' && next !== '' ? next : typeof next === 'number' ? String(next) : null;
      }
      case 'page':
        return count < p.size ? null : String(Number(position ?? p.startAt) + 1);
      case 'offset':
        return count < p.size ? null : String(Number(position ?? 0) + count);
      case 'link':
        return nextLink(res.headers.get('link'));
    }
  }

  return {
    kind: 'rest',
    version: (entity, record) => recordVersion(connector.streams[entity]?.incremental, record),
    async *pages(entity, position, since): AsyncIterable<SourcePage> {
      const stream = streamOf(entity);
      let current = position;
      for (;;) {
        const url = pageUrl(stream, current, since);
        const answer = (await http.send(url, requestOf(stream, url))) as IncomingResponse;
        const { body, records } = readAnswer(stream, answer);
        const res = { ...answer, body };
        if (!Array.isArray(records)) {
          throw new ErpConfigurationError(`no list of records at '${stream.recordPath ?? '(body)'}' in the ERP's answer`);
        }
        if (records.length > maxPageRecords) {
          throw new ErpConfigurationError(
            `the ERP's page from ${url.pathname} holds ${records.length} records, over the ${maxPageRecords}-record cap (ERP_MAX_PAGE_RECORDS); ask for smaller pages`,
          );
        }
        const next = nextPosition(stream, current, res, records.length);
        yield { records, next };
        if (next === null) return;
        current = next;
      }
    },
  };
}
