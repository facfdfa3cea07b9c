/**
 * The published JSON Schema of an ERP integration's connector and mappings
 * (docs/erp-mapping.schema.json, written by scripts/generate-erp-schema.ts), generated from the zod
 * schemas so the documentation cannot drift from what the API accepts.
 */
import { z } from 'zod';
import { mappingsSchema } from '../../domain/erp/mapping.js';
import { transformationStepInputSchema } from '../../domain/erp/transformations.js';
import { connectorSchema } from './connector-definition.js';

type Json = Record<string, unknown>;

/**
 * Steps are parsed through a preprocess (a bare name or one step becomes a list), which JSON Schema
 * cannot express from the zod side: every `transformation` is rewritten to the written forms.
 */
function withWrittenTransformations(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withWrittenTransformations);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === 'properties' && value && typeof value === 'object' && 'transformation' in value) {
      const props = withWrittenTransformations(value) as Json;
      props['transformation'] = {
        description: 'One step or a list applied left to right.',
        anyOf: [{ $ref: '#/$defs/ErpTransformation' }, { type: 'array', items: { $ref: '#/$defs/ErpTransformation' } }],
      };
      out[key] = props;
    } else out[key] = withWrittenTransformations(value);
  }
  return out;
}

export function erpMappingJsonSchema(): Json {
  const root = z.strictObject({ connector: connectorSchema, mappings: mappingsSchema });
  const schema = z.toJSONSchema(root, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  const step = z.toJSONSchema(transformationStepInputSchema, { io: 'input', target: 'draft-2020-12' }) as Json;
  const { $schema: _s, $defs: stepDefs, ...stepRoot } = step;
  const rewritten = withWrittenTransformations(schema) as Json;
  const defs = { ...((rewritten['$defs'] as Json | undefined) ?? {}), ...((stepDefs as Json | undefined) ?? {}) };
  defs['ErpTransformation'] = stepRoot['$ref'] ? (stepDefs as Json)['ErpTransformation'] : stepRoot;
  return {
    ...rewritten,
    $id: 'https://switchyard.dev/schemas/erp-mapping.schema.json',
    title: 'Switchyard ERP integration: connector and field mappings',
    $defs: defs,
  };
}

export function erpMappingJsonSchemaText(): string {
  return `${JSON.stringify(erpMappingJsonSchema(), null, 2)}\n`;
}
