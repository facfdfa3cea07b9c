/** The declarative REST ERP connector: streams of JSON or XML records, paged and filtered as the definition says. */
import type { ErpWatermark } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { renderString } from '../../domain/template.js';
import { buildRequest, type IncomingResponse } from '../declarative/http.js';
import { nextPosition, pageUrl, PaginationError, positionKey, type PagePosition, type Pagination } from '../declarative/pagination.js';
import type { RestConnector, RestStream } from './connector-definition.js';
import { incrementalRequest, sinceParamValue } from './incremental.js';
import { readAnswer, renderBody } from './rest-request.js';
import {
  DEFAULT_ERP_SOURCE_LIMITS,
  ErpConfigurationError,
  ErpIgnoredAnswer,
  ErpHttp,
  recordVersion,
  type ErpSource,
  type ErpSourceContext,
  type SourcePage,
} from './source.js';

/**
 * ERP checkpoints store a position as text (they did before the shared paginators, so stored ones
 * keep working): the cursor, the page number, the offset, or the next URL.
 */
function positionOf(spec: Pagination, text: string | null): PagePosition {
  if (text === null) return null;
  switch (spec.type) {
    case 'page':
      return { page: Number(text) };
    case 'offset':
      return { offset: Number(text) };
    case 'cursor':
      return { cursor: text };
    default:
      return { url: text };
  }
}

function textOf(position: PagePosition): string | null {
  if (position === null) return null;
  if ('cursor' in position) return position.cursor;
  if ('url' in position) return position.url;
  return String('page' in position ? position.page : position.offset);
}

export function createRestSource(connector: RestConnector, ctx: ErpSourceContext): ErpSource {
  const http = new ErpHttp(ctx, connector);
  const { maxPageRecords } = ctx.limits ?? DEFAULT_ERP_SOURCE_LIMITS;

  function streamOf(entity: ErpEntity): RestStream {
    const stream = connector.streams[entity];
    if (!stream) throw new ErpConfigurationError(`the connector has no stream for ${entity}`);
    return stream;
  }

  function firstUrl(stream: RestStream, since: ErpWatermark | undefined): URL {
    const { url } = buildRequest(http.baseUrl, { method: 'GET', path: stream.path, query: stream.query }, http.vars);
    const request = stream.incremental && incrementalRequest(stream.incremental);
    if (since && request) url.searchParams.set(request.param, sinceParamValue(request, since.watermark, stream.incremental!.lookbackSeconds));
    return url;
  }

  /** Method, headers and body of a page's request (the body sees the page's query parameters). */
  function requestOf(stream: RestStream, url: URL) {
    const headers = Object.fromEntries(Object.entries(stream.headers ?? {}).map(([name, tpl]) => [name.toLowerCase(), renderString(tpl, http.vars)]));
    const body = renderBody(stream, http.vars, url);
    if (body) headers['content-type'] = body.contentType;
    // Unset, JSON is asked for as before; an ERP that answers XML anyway is read by its Content-Type.
    const accept = stream.format === 'xml' ? 'application/xml, text/xml, application/soap+xml' : 'application/json';
    return { method: stream.method ?? 'GET', accept, headers, onError: stream.onError, ...(body ? { body: body.body } : {}) };
  }

  /** Shared paginators; a hostile next link or a page that does not move on is a configuration error. */
  function paging<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof PaginationError) throw new ErpConfigurationError(err.message);
      throw err;
    }
  }

  return {
    kind: 'rest',
    version: (entity, record) => recordVersion(connector.streams[entity]?.incremental, record),
    async *pages(entity, position, since): AsyncIterable<SourcePage> {
      const stream = streamOf(entity);
      const first = firstUrl(stream, since);
      const seen = new Set<string>();
      let current = paging(() => positionOf(stream.pagination, position));
      for (;;) {
        const url = paging(() => http.checkUrl(pageUrl(stream.pagination, first, current, http.baseUrl).toString()));
        let answer: IncomingResponse;
        try {
          answer = (await http.send(url, requestOf(stream, url))) as IncomingResponse;
        } catch (err) {
          if (!(err instanceof ErpIgnoredAnswer)) throw err;
          yield { records: [], next: null }; // an `ignore` rule: an empty last page
          return;
        }
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
        seen.add(positionKey(current));
        const next = paging(() => nextPosition(stream.pagination, current, { url, headers: res.headers, body: res.body, count: records.length }, http.baseUrl));
        if (next !== null && seen.has(positionKey(next))) {
          throw new ErpConfigurationError(`pagination goes back to a page already read (${textOf(next)?.slice(0, 200) ?? ''})`);
        }
        yield { records, next: textOf(next) };
        if (next === null) return;
        current = next;
      }
    },
  };
}
