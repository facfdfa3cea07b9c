/**
 * Copies the part of Stripe's official OpenAPI spec that the emulator's contract tests check against
 * (the schemas they name, their transitive $refs, and the responses of the paths they use) into
 * test/fixtures, so the tests run from a fresh clone without the 4 MB spec.
 *
 *   npx tsx scripts/vendor-stripe-openapi.ts ../shared/stripe/openapi.spec3.2022-04-12.json
 */
import { readFileSync, writeFileSync } from 'node:fs';

const SCHEMAS = ['balance', 'customer', 'deleted_customer', 'error', 'event', 'payment_intent', 'refund'];
const PATHS: [string, string][] = [
  ['/v1/payment_intents/search', 'get'],
  ['/v1/customers', 'get'],
  ['/v1/customers', 'post'],
  ['/v1/customers/search', 'get'],
  ['/v1/customers/{customer}', 'get'],
  ['/v1/customers/{customer}', 'post'],
  ['/v1/customers/{customer}', 'delete'],
  ['/v1/events', 'get'],
];
export const SUBSET_FILE = 'test/fixtures/stripe-openapi-2022-04-12.subset.json';

const source = process.argv[2];
if (!source) throw new Error('usage: vendor-stripe-openapi.ts <path to openapi.spec3.json>');
const spec = JSON.parse(readFileSync(source, 'utf8')) as {
  openapi: string;
  info: unknown;
  components: { schemas: Record<string, unknown> };
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};

const keep = new Map<string, unknown>();
const visit = (node: unknown): void => {
  if (Array.isArray(node)) return node.forEach(visit);
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string') {
      const name = v.replace('#/components/schemas/', '');
      if (!keep.has(name)) {
        keep.set(name, spec.components.schemas[name]);
        visit(spec.components.schemas[name]);
      }
    } else visit(v);
  }
};
const paths: Record<string, Record<string, { responses: Record<string, unknown> }>> = {};
for (const name of SCHEMAS) visit({ $ref: `#/components/schemas/${name}` });
for (const [path, method] of PATHS) {
  const op = spec.paths[path]?.[method];
  if (!op) throw new Error(`${method} ${path} not in the spec`);
  paths[path] = { ...paths[path], [method]: { responses: op.responses } };
  visit(op.responses);
}
const subset = { openapi: spec.openapi, info: spec.info, components: { schemas: Object.fromEntries([...keep].sort()) }, paths };
writeFileSync(SUBSET_FILE, JSON.stringify(subset) + '\n');
console.log(`${keep.size} schemas, ${Object.keys(paths).length} paths -> ${SUBSET_FILE}`);
