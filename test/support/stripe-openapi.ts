import { fileURLToPath } from 'node:url';
/**
 * A small validator for Stripe's OpenAPI document (the subset Stripe's schemas use): `$ref` under
 * components.schemas, anyOf/oneOf/allOf, required properties, types, enums and nullability.
 * Properties absent from a schema are allowed, as in Stripe's own spec (no additionalProperties: false).
 */
import { existsSync, readFileSync } from 'node:fs';

export interface OpenApiSchema {
  $ref?: string;
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  nullable?: boolean;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: boolean | OpenApiSchema;
  items?: OpenApiSchema;
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  allOf?: OpenApiSchema[];
  'x-stripeBypassValidation'?: boolean;
}

interface OpenApiDocument {
  components: { schemas: Record<string, OpenApiSchema> };
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: OpenApiSchema }> }> }>
  >;
}

/**
 * The part of Stripe's published spec (2022-04-12) the tests check against, vendored by
 * scripts/vendor-stripe-openapi.ts; point STRIPE_OPENAPI_SPEC at the full spec to use that instead.
 */
export const STRIPE_OPENAPI_SPEC_PATH =
  process.env['STRIPE_OPENAPI_SPEC'] ?? fileURLToPath(new URL('../fixtures/stripe-openapi-2022-04-12.subset.json', import.meta.url));

let cached: OpenApiDocument | undefined;

function spec(): OpenApiDocument {
  if (!cached) {
    if (!existsSync(STRIPE_OPENAPI_SPEC_PATH)) {
      throw new Error(
        `Stripe OpenAPI spec not found at ${STRIPE_OPENAPI_SPEC_PATH}; set STRIPE_OPENAPI_SPEC`,
      );
    }
    cached = JSON.parse(readFileSync(STRIPE_OPENAPI_SPEC_PATH, 'utf8')) as OpenApiDocument;
  }
  return cached;
}

export function componentSchema(name: string): OpenApiSchema {
  const schema = spec().components.schemas[name];
  if (!schema) throw new Error(`No schema components.schemas.${name} in the Stripe spec`);
  return schema;
}

/** The JSON schema of a path's response, e.g. `responseSchema('/v1/payment_intents/search', 'get')`. */
export function responseSchema(path: string, method: string, status = '200'): OpenApiSchema {
  const schema = spec().paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
  if (!schema)
    throw new Error(`No ${status} JSON response for ${method.toUpperCase()} ${path} in the Stripe spec`);
  return schema;
}

function resolve(schema: OpenApiSchema): OpenApiSchema {
  let current = schema;
  while (current.$ref) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(current.$ref)?.[1];
    if (!name) throw new Error(`Unsupported $ref ${current.$ref}`);
    current = componentSchema(name);
  }
  return current;
}

function typeMatches(type: NonNullable<OpenApiSchema['type']>, value: unknown): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    default:
      return typeof value === type;
  }
}

function collect(schemaOrRef: OpenApiSchema, value: unknown, path: string, errors: string[]): void {
  const schema = resolve(schemaOrRef);
  if (value === null) {
    if (!schema.nullable) errors.push(`${path}: is null but not nullable`);
    return;
  }
  if (value === undefined) {
    errors.push(`${path}: is undefined`);
    return;
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const attempts = alternatives.map((alt) => validateSchema(alt, value, path));
    if (!attempts.some((e) => e.length === 0)) {
      const closest = attempts.reduce((a, b) => (b.length < a.length ? b : a));
      errors.push(
        `${path}: matches none of ${alternatives.length} alternatives; closest: ${closest.join('; ')}`,
      );
    }
  }
  for (const part of schema.allOf ?? []) collect(part, value, path, errors);
  if (schema.type && !typeMatches(schema.type, value)) {
    errors.push(`${path}: expected ${schema.type}, got ${Array.isArray(value) ? 'array' : typeof value}`);
    return;
  }
  if (schema.enum && !schema['x-stripeBypassValidation'] && !schema.enum.includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => collect(schema.items as OpenApiSchema, item, `${path}[${i}]`, errors));
  }
  if (
    typeof value === 'object' &&
    !Array.isArray(value) &&
    (schema.properties || schema.required || schema.additionalProperties)
  ) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (record[key] === undefined) errors.push(`${path}.${key}: required but missing`);
    }
    for (const [key, child] of Object.entries(record)) {
      if (child === undefined) continue; // absent in JSON
      const declared = schema.properties?.[key];
      if (declared) collect(declared, child, `${path}.${key}`, errors);
      else if (typeof schema.additionalProperties === 'object')
        collect(schema.additionalProperties, child, `${path}.${key}`, errors);
    }
  }
}

/** Every way `value` departs from the schema (an empty list when it conforms). */
export function validateSchema(schema: OpenApiSchema | string, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  collect(typeof schema === 'string' ? componentSchema(schema) : schema, value, path, errors);
  return errors;
}
