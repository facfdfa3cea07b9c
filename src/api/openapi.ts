import { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'patch' | 'put' | 'delete';
export type Security = 'tenant' | 'admin' | 'none';

/** One operation as documented; built from the same zod schemas that validate requests. */
export interface OperationDoc {
  method: HttpMethod;
  /** Express-style path (`/v1/connections/:id`). */
  path: string;
  /** Unique and readable (`createPayment`): generated clients name their methods after it. */
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  security: Security;
  /** API key scope a tenant route needs (listed as the role of its security requirement). */
  scope?: 'read' | 'full';
  body?: z.ZodType;
  /** A body that is not JSON, read as a stream by the handler: its accepted media types. */
  streamBody?: { contentTypes: string[]; description: string };
  /** Media types in which `body` may also be sent as text (YAML), documented next to application/json. */
  textBodyTypes?: string[];
  query?: z.ZodType;
  params?: z.ZodType;
  headers?: { name: string; required: boolean; description: string; schema?: z.ZodType }[];
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

/** Collects operations as routers are built, then renders an OpenAPI 3.1 document. */
export class OpenApiRegistry {
  private readonly operations: OperationDoc[] = [];

  add(op: OperationDoc): void {
    if (this.operations.some((o) => o.operationId === op.operationId)) throw new Error(`operationId "${op.operationId}" is used twice`);
    this.operations.push(op);
  }

  /** The methods registered for each Express-style path (for 405 answers with `Allow`). */
  methodsByPath(): Map<string, HttpMethod[]> {
    const byPath = new Map<string, HttpMethod[]>();
    for (const op of this.operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op.method]);
    return byPath;
  }

  document(info: { title: string; version: string; serverUrl?: string }): object {
    const paths: Record<string, Record<string, object>> = {};
    const schemas: Components = {};
    jsonSchema(errorResponseSchema, 'output', schemas);
    for (const op of this.operations) {
      const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      paths[path] ??= {};
      paths[path][op.method] = renderOperation(op, schemas);
    }
    return {
      openapi: '3.1.0',
      info: {
        title: info.title,
        version: info.version,
        description:
          'Switchyard API. Authenticate with `Authorization: Bearer <tenant API key>` (admin routes take the admin token). ' +
          'Every error has the shape `{ "error": { "code", "message", "requestId", "details"? } }`.',
      },
      ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
      tags: [...new Set(this.operations.map((o) => o.tag))].map((name) => ({ name })),
      components: {
        securitySchemes: {
          tenantApiKey: { type: 'http', scheme: 'bearer', description: 'Tenant API key (sy_live_...)' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN of the deployment' },
        },
        schemas,
      },
      paths,
    };
  }
}

export const errorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable code, e.g. validation_failed' }),
      message: z.string(),
      requestId: z.string(),
      details: z
        .array(
          z.object({
            path: z.string(),
            message: z.string(),
            line: z.number().int().optional().meta({ description: 'Where the field is written in a definition sent as text (YAML or JSON), 1-based.' }),
            column: z.number().int().optional(),
          }),
        )
        .optional(),
    }),
  })
  .meta({
    id: 'Error',
    examples: [
      {
        error: {
          code: 'validation_failed',
          message: 'invalid request: body.amount',
          requestId: 'req_5f0c8e7a2b9d4c1e8f6a3b2d1c0e9f8a',
          details: [{ path: 'body.amount', message: 'Too small: expected number to be >0' }],
        },
      },
    ],
  });

/** Named schemas of the document (`#/components/schemas/...`). */
type Components = Record<string, object>;

/** Points every `$ref` at its new location; `rename` maps a local `$defs` name to a component name. */
function rewriteRefs(value: unknown, rename: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, rename));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      const local = key === '$ref' && typeof v === 'string' ? /^#\/\$defs\/(.+)$/.exec(v)?.[1] : undefined;
      return [key, local !== undefined ? `#/components/schemas/${rename.get(local) ?? local}` : rewriteRefs(v, rename)];
    }),
  );
}

/**
 * JSON Schema of a zod schema for the document. Named sub-schemas (`.meta({ id })`, recursive ones)
 * come out of zod as local `$defs`, which do not resolve once the schema is embedded in an operation:
 * they are hoisted into `components` (a name already taken by a different schema gets a suffix) and
 * every `$ref` is rewritten to point there.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', components: Components): object {
  const { $schema: _ignored, $defs, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', override: documentable }) as Record<string, unknown>;
  const defs = Object.entries(($defs ?? {}) as Record<string, object>);
  for (let attempt = 0; ; attempt++) {
    const suffix = attempt === 0 ? '' : `_${io}${attempt > 1 ? attempt : ''}`;
    const rename = new Map(defs.map(([name]) => [name, `${name}${suffix}`]));
    const hoisted = defs.map(([name, def]) => [rename.get(name)!, JSON.stringify(rewriteRefs(def, rename))] as const);
    // A name may be shared only by the very same schema (ids are global in zod; input and output forms can differ).
    if (hoisted.some(([target, json]) => components[target] && JSON.stringify(components[target]) !== json)) continue;
    for (const [target, json] of hoisted) components[target] = JSON.parse(json) as object;
    return rewriteRefs(rest, rename) as object;
  }
}

const JSON_KINDS = ['array', 'boolean', 'null', 'number', 'record', 'string'].join();

/** A union of every JSON kind whose arrays and objects hold it again (through z.lazy): any JSON value. */
function isJsonValue(schema: z.core.$ZodType): boolean {
  const def = schema._zod.def;
  if (def.type !== 'union') return false;
  const options = (def as z.core.$ZodUnionDef).options.map((o) => o._zod.def);
  const nested = options.map((o) => (o.type === 'array' ? (o as z.core.$ZodArrayDef).element : o.type === 'record' ? (o as z.core.$ZodRecordDef).valueType : undefined));
  return options.map((o) => o.type).sort().join() === JSON_KINDS && nested.every((n) => n === undefined || n._zod.def.type === 'lazy');
}

/**
 * Adjusts what zod writes for one schema:
 * - drops the ±(2^53-1) bounds zod gives every `.int()` (it means "a safe integer", not a domain
 *   bound; real bounds are set with min/max on the schema);
 * - writes a recursive JSON value type (the body templates of provider definitions) as `{}` with a
 *   description: it admits the same values, while the recursive union makes generators emit a type
 *   alias that contains arrays of itself, which TypeScript refuses (TS2502);
 * - refuses an example its schema does not accept, so examples cannot drift from the API.
 * Examples are written as a client sends them (parse accepts them); zod drops them from the input
 * form of a schema with transforms, so they are put back.
 */
function documentable(ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
  const js = ctx.jsonSchema;
  if (js.minimum === Number.MIN_SAFE_INTEGER) delete js.minimum;
  if (js.maximum === Number.MAX_SAFE_INTEGER) delete js.maximum;
  if (isJsonValue(ctx.zodSchema)) {
    delete js.anyOf;
    js.description ??= 'Any JSON value';
  }
  const examples = z.globalRegistry.get(ctx.zodSchema as z.ZodType)?.examples as unknown[] | undefined;
  if (!examples) return;
  for (const example of examples) {
    const result = z.safeParse(ctx.zodSchema, example);
    if (!result.success) throw new Error(`an example does not match its schema: ${JSON.stringify(example)}: ${z.prettifyError(result.error)}`);
  }
  js.examples = examples;
}

function parameters(schema: z.ZodType | undefined, where: 'query' | 'path', components: Components): object[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input', components) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    schema: prop,
    ...('description' in prop ? { description: prop.description } : {}),
  }));
}

/** A PATCH body is a JSON Merge Patch (RFC 7396), sent as JSON or as application/merge-patch+json. */
function requestBodyContent(method: HttpMethod, schema: object): Record<string, { schema: object }> {
  return method === 'patch' ? { 'application/json': { schema }, 'application/merge-patch+json': { schema } } : { 'application/json': { schema } };
}

function renderOperation(op: OperationDoc, components: Components): object {
  const security = op.security === 'none' ? [] : [{ [op.security === 'admin' ? 'adminToken' : 'tenantApiKey']: op.scope ? [op.scope] : [] }];
  const responses: Record<string, object> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output', components) } } } : {}),
    };
  }
  responses.default = {
    description: 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return {
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    operationId: op.operationId,
    security,
    parameters: [
      ...parameters(op.params, 'path', components),
      ...parameters(op.query, 'query', components),
      ...(op.headers ?? []).map((h) => ({
        name: h.name,
        in: 'header',
        required: h.required,
        description: h.description,
        schema: h.schema ? jsonSchema(h.schema, 'input', components) : { type: 'string' },
      })),
    ],
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: {
              ...requestBodyContent(op.method, jsonSchema(op.body, 'input', components)),
              ...Object.fromEntries(
                (op.textBodyTypes ?? []).map((t) => [t, { schema: { type: 'string', description: 'The same document written as text in this format (e.g. the YAML of a definition file).' } }]),
              ),
            },
          },
        }
      : {}),
    ...(op.streamBody
      ? {
          requestBody: {
            required: true,
            description: op.streamBody.description,
            content: Object.fromEntries(op.streamBody.contentTypes.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
          },
        }
      : {}),
    responses,
  };
}

/** Interactive docs (Swagger UI served from the swagger-ui-dist package; works offline). */
export function docsPage(assetsBase: string, initScriptUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Switchyard API</title>
  <link rel="stylesheet" href="${assetsBase}/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${assetsBase}/swagger-ui-bundle.js"></script>
  <script src="${initScriptUrl}"></script>
</body>
</html>`;
}

export function docsInitScript(specUrl: string): string {
  return `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: '#swagger-ui', persistAuthorization: true });`;
}
