/** The declarative REST ERP connector: streams of JSON records, paged and filtered as the definition says. */
import type { ErpWatermark } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { readPath } from '../../domain/template.js';
import { buildRequest, type IncomingResponse } from '../declarative/http.js';
import type { RestConnector, RestStream } from './connector-definition.js';
import { incrementalRequest, sinceParamValue } from './incremental.js';
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
    const request = stream.incremental && incrementalRequest(stream.incremental);
    if (since && request) url.searchParams.set(request.param, sinceParamValue(request, since.watermark, stream.incremental!.lookbackSeconds));
    if (p.type === 'cursor' && position) url.searchParams.set(p.param, position);
    if (p.type === 'page' || p.type === 'offset') {
      url.searchParams.set(p.param, position ?? String(p.type === 'page' ? p.startAt : 0));
      if (p.sizeParam) url.searchParams.set(p.sizeParam, String(p.size));
    }
    return url;
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
        const res = (await http.get(url)) as IncomingResponse;
        const records = stream.recordPath ? readPath(res.body, stream.recordPath) : res.body;
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
