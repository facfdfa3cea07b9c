import { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'patch' | 'put' | 'delete';
export type Security = 'tenant' | 'admin' | 'none';

/** One operation as documented; built from the same zod schemas that validate requests. */
export interface OperationDoc {
  method: HttpMethod;
  /** Express-style path (`/v1/connections/:id`). */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  security: Security;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  headers?: { name: string; required: boolean; description: string }[];
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

/** Collects operations as routers are built, then renders an OpenAPI 3.1 document. */
export class OpenApiRegistry {
  private readonly operations: OperationDoc[] = [];

  add(op: OperationDoc): void {
    this.operations.push(op);
  }

  document(info: { title: string; version: string; serverUrl?: string }): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const op of this.operations) {
      const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      paths[path] ??= {};
      paths[path][op.method] = renderOperation(op);
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
        schemas: { Error: jsonSchema(errorResponseSchema, 'output') },
      },
      paths,
    };
  }
}

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string().meta({ description: 'Stable machine-readable code, e.g. validation_failed' }),
    message: z.string(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'query' | 'path'): object[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    schema: prop,
    ...('description' in prop ? { description: prop.description } : {}),
  }));
}

function renderOperation(op: OperationDoc): object {
  const security = op.security === 'none' ? [] : [{ [op.security === 'admin' ? 'adminToken' : 'tenantApiKey']: [] }];
  const responses: Record<string, object> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output') } } } : {}),
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
    operationId: `${op.method}${op.path.replace(/\/:?([a-zA-Z_]+)/g, (_m, p: string) => p[0]!.toUpperCase() + p.slice(1))}`,
    security,
    parameters: [
      ...parameters(op.params, 'path'),
      ...parameters(op.query, 'query'),
      ...(op.headers ?? []).map((h) => ({
        name: h.name,
        in: 'header',
        required: h.required,
        description: h.description,
        schema: { type: 'string' },
      })),
    ],
    ...(op.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } }
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
