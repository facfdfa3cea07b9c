/** Writes docs/erp-mapping.schema.json from the zod schemas: `npx tsx scripts/generate-erp-schema.ts`. */
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { erpMappingJsonSchemaText } from '../src/providers/erp/json-schema.js';

const target = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'erp-mapping.schema.json');
const options = (await prettier.resolveConfig(target)) ?? {};
await writeFile(target, await prettier.format(erpMappingJsonSchemaText(), { ...options, filepath: target }));
console.log(`wrote ${target}`);
