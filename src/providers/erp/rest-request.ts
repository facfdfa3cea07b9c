/**
 * The request and answer formats of a REST ERP stream beyond GET + JSON: XML answers (SOAP and plain
 * XML APIs) with records selected by a path, and POST with an XML body template (a SOAP envelope).
 * The schema fields are spread into the stream schema of connector-definition.ts.
 */
import { z } from 'zod';
import { parsePath, parseTemplate, readPath, renderString, templateVariables } from '../../domain/template.js';
import type { IncomingResponse } from '../declarative/http.js';
import { escapeXml, parseXml, selectXml, XmlError } from '../declarative/xml.js';
import { ErpConfigurationError } from './source-errors.js';

/** Headers that frame or route the request: the HTTP client writes them. */
const FRAMING_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);

/** Roots a body template may read: the connection's, and `query`, the parameters set for this page. */
const BODY_TEMPLATE_VARIABLES = ['credentials', 'settings', 'query'] as const;

const xmlBodyTemplate = z
  .string()
  .max(20_000)
  .superRefine((value, ctx) => {
    try {
      for (const variable of templateVariables(value)) {
        const [root] = parsePath(variable);
        if (typeof root !== 'string' || !(BODY_TEMPLATE_VARIABLES as readonly string[]).includes(root)) {
          ctx.addIssue({ code: 'custom', message: `unknown variable '${variable}' (available: credentials, settings, query)` });
        }
      }
      // Well-formed with every variable standing in as a character reference, which is only valid
      // in text and attribute values: escaping protects those, so a variable in a name or between
      // attributes (`<{{x}}>`, `<a {{x}}>`), where a value could still add markup, is refused too.
      const sample = parseTemplate(value)
        .map((part) => (part.kind === 'text' ? part.text : '&#120;'))
        .join('');
      parseXml(sample);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: err instanceof XmlError ? `not well-formed XML (variables may stand in text and attribute values only): ${err.message}` : (err as Error).message,
      });
    }
  });

/** Fields of a REST stream; `template` is the connector's template schema (credentials and settings). */
export const restRequestFields = (template: z.ZodType<string, string>) => ({
  // No default written into the parsed stream, so definitions saved before it parse exactly as they did.
  method: z.enum(['GET', 'POST']).optional().meta({ description: 'GET when absent; POST sends `body` (e.g. a SOAP call).' }),
  headers: z
    .record(z.string(), template)
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not an HTTP header name' });
        else if (FRAMING_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'set by the HTTP client, not by a definition' });
      }
    })
    .optional()
    .meta({ description: 'Extra request headers (templates over credentials and settings), e.g. SOAPAction.' }),
  body: z
    .strictObject({
      encoding: z.literal('xml'),
      template: xmlBodyTemplate.meta({
        description:
          'The XML document sent, with {{credentials.x}}, {{settings.x}} and {{query.x}} (the parameters the paginator and the incremental filter set for this page); every value is XML-escaped.',
      }),
      contentType: z.string().max(200).default('text/xml; charset=utf-8'),
    })
    .optional(),
  format: z
    .enum(['json', 'xml'])
    .optional()
    .meta({ description: "How the answer is read; by its Content-Type when absent (…xml → xml, else JSON)." }),
});

interface RestRequestFields {
  method?: 'GET' | 'POST' | undefined;
  body?: { encoding: 'xml'; template: string; contentType: string } | undefined;
  format?: 'json' | 'xml' | undefined;
}

/** The body of one page's request, the templates rendered with every value XML-escaped. */
export function renderBody(
  stream: Pick<RestRequestFields, 'method' | 'body'>,
  vars: { credentials: Record<string, string>; settings: Record<string, unknown> },
  url: URL,
): { body: string; contentType: string } | undefined {
  if (stream.method !== 'POST' || !stream.body) return undefined;
  const query = Object.fromEntries(url.searchParams);
  try {
    return { body: renderString(stream.body.template, { ...vars, query }, { escape: escapeXml }), contentType: stream.body.contentType };
  } catch (err) {
    throw new ErpConfigurationError(`request body: ${(err as Error).message}`);
  }
}

/**
 * A page's answer as data, and its records at `recordPath`. An XML answer is parsed (so paginator
 * paths such as `cursorPath` read the document too) and its records selected by selectXml: one
 * element and a repeated one are both a list.
 */
export function readAnswer(
  stream: Pick<RestRequestFields, 'format'> & { recordPath?: string | undefined },
  res: IncomingResponse,
): { body: unknown; records: unknown } {
  const xml = stream.format === 'xml' || (stream.format === undefined && /xml/i.test(res.headers.get('content-type') ?? ''));
  if (!xml) return { body: res.body, records: stream.recordPath ? readPath(res.body, stream.recordPath) : res.body };
  if (typeof res.body !== 'string') throw new ErpConfigurationError("the ERP's answer is not XML");
  let document;
  try {
    document = parseXml(res.body);
  } catch (err) {
    throw new ErpConfigurationError(`the ERP's XML answer: ${(err as Error).message}`);
  }
  return { body: document, records: stream.recordPath ? selectXml(document, parsePath(stream.recordPath)) : [document] };
}
