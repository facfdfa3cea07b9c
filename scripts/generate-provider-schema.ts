/** Writes docs/provider-definition.schema.json from the zod schema: `npx tsx scripts/generate-provider-schema.ts`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { providerDefinitionJsonSchemaText } from '../src/providers/declarative/definition.js';

const target = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'docs',
  'provider-definition.schema.json',
);
await mkdir(dirname(target), { recursive: true });
// Formatted like the rest of the repository, so `npm run format` leaves it unchanged.
const options = (await prettier.resolveConfig(target)) ?? {};
await writeFile(
  target,
  await prettier.format(providerDefinitionJsonSchemaText(), { ...options, filepath: target }),
);
console.log(`wrote ${target}`);
