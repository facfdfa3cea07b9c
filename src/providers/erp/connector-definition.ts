/**
 * The connector part of an ERP integration: where records come from. Same style as declarative
 * gateway definitions (templated baseUrl, the same auth blocks, dotted response paths), with the
 * vocabulary of Airbyte's low-code sources kept small: per entity a stream with a record path, a
 * paginator (the shared ones of ../declarative/pagination.ts) and an incremental cursor field sent
 * back as an "updated since" parameter. A CSV connector reads an export instead.
 */
import { z } from 'zod';
import { ERP_ENTITIES } from '../../domain/erp/entities.js';
import { parsePath, templateVariables } from '../../domain/template.js';
import { authSchema, CONNECTION_TEMPLATE_VARIABLES } from '../declarative/definition.js';
import { paginationSchema } from '../declarative/pagination.js';
import { erpWebhookSchema } from './webhook-envelope.js';
import { csvIncrementalSchema, incrementalSchema } from './incremental.js';
import { alsoFeedsSchema, checkSharedStreams } from './shared-streams.js';
import { errorActionsSchema } from '../declarative/error-rules.js';
import { restRequestFields } from './rest-request.js';
import { formatVersionSchema, refusingLegacyFieldsInV2 } from '../declarative/format-version.js';
import { CONNECTOR_LEGACY_FIELDS } from './connector-format.js';
import { recordFilterSchema } from '../declarative/record-filter.js';

const template = z
  .string()
  .max(2000)
  .superRefine((value, ctx) => {
    try {
      for (const variable of templateVariables(value)) {
        const [root] = parsePath(variable);
        if (typeof root !== 'string' || !(CONNECTION_TEMPLATE_VARIABLES as readonly string[]).includes(root)) {
          ctx.addIssue({ code: 'custom', message: `unknown variable '${variable}' (available: credentials, settings)` });
        }
      }
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const path = z.string().refine((p) => {
  try {
    return parsePath(p).length > 0;
  } catch {
    return false;
  }
}, "not a valid path (dotted keys and [index], e.g. 'data.items')");


const restStream = z.strictObject({
  path: template.refine((p) => p.startsWith('/'), "a path starts with '/' (it is appended to baseUrl)"),
  query: z.record(z.string(), template).optional(),
  recordPath: path.optional().meta({ description: 'Where the list of records is in the body; the body itself when absent.' }),
  pagination: paginationSchema.default({ type: 'none' }),
  incremental: incrementalSchema.optional(),
  alsoFeeds: alsoFeedsSchema,
  onError: errorActionsSchema,
  filter: recordFilterSchema.optional(),
  ...restRequestFields(template),
}).refine((s) => s.body === undefined || s.method === 'POST', { message: "a body is sent with method: 'POST' only", path: ['body'] });

const csvStream = z.strictObject({
  url: template.optional().meta({ description: "https URL of the export, or a path starting with '/' relative to baseUrl." }),
  upload: z
    .literal(true)
    .optional()
    .meta({ description: 'Read the newest file uploaded with PUT /v1/integrations/{id}/files/{entity} instead of a URL.' }),
  delimiter: z.enum([',', ';', '\t', '|']).optional().meta({ description: 'Detected from the header line when absent.' }),
  quote: z.string().length(1).default('"'),
  header: z.boolean().default(true).meta({ description: 'First line names the columns; otherwise columns are 1, 2, …' }),
  encoding: z
    .enum(['utf-8', 'windows-1254', 'iso-8859-9', 'windows-1252'])
    .optional()
    .meta({ description: 'Detected (BOM, then byte statistics) when absent.' }),
  compression: z
    .enum(['gzip', 'none'])
    .optional()
    .meta({ description: 'gzip files are detected by their first bytes when absent; Content-Encoding: gzip is always read.' }),
  pageSize: z
    .number()
    .int()
    .min(1)
    .max(20_000)
    .default(5000)
    .meta({ description: 'Rows committed per transaction (with the checkpoint); larger pages mean fewer commits.' }),
  incremental: csvIncrementalSchema.optional(),
  alsoFeeds: alsoFeedsSchema,
  filter: recordFilterSchema.optional(),
}).refine((s) => (s.url === undefined) !== (s.upload === undefined), { message: 'set either url or upload: true', path: ['url'] });

const streamsOf = <S extends z.ZodType>(stream: S) =>
  z
    .strictObject(Object.fromEntries(ERP_ENTITIES.map((e) => [e, stream.optional()])) as Record<(typeof ERP_ENTITIES)[number], z.ZodOptional<S>>)
    .refine((s) => Object.values(s).some((v) => v !== undefined), 'define at least one entity stream')
    .superRefine((streams, ctx) => checkSharedStreams(streams as Parameters<typeof checkSharedStreams>[0], ctx));


export const restConnectorSchema = z.strictObject({
  type: z.literal('rest'),
  formatVersion: formatVersionSchema,
  baseUrl: template,
  auth: authSchema.optional(),
  timeoutMs: z.number().int().positive().max(120_000).default(20_000),
  streams: streamsOf(restStream),
  webhook: erpWebhookSchema.optional(),
});

export const csvConnectorSchema = z.strictObject({
  type: z.literal('csv'),
  formatVersion: formatVersionSchema,
  baseUrl: template.optional(),
  auth: authSchema.optional(),
  timeoutMs: z.number().int().positive().max(600_000).default(120_000),
  streams: streamsOf(csvStream),
  webhook: erpWebhookSchema.optional(),
});

/** An ERP connector in either format version (see connector-format.ts). */
export const connectorSchema = refusingLegacyFieldsInV2(
  z.discriminatedUnion('type', [restConnectorSchema, csvConnectorSchema]),
  CONNECTOR_LEGACY_FIELDS,
).meta({ id: 'ErpConnector' });
export type ErpConnector = z.output<typeof connectorSchema>;
export type RestConnector = z.output<typeof restConnectorSchema>;
export type CsvConnector = z.output<typeof csvConnectorSchema>;
export type RestStream = z.output<typeof restStream>;
export type CsvStream = z.output<typeof csvStream>;
export type { IncrementalSpec } from './incremental.js';
