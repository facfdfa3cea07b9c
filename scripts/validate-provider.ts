/**
 * Validates provider definition files: `npx tsx scripts/validate-provider.ts providers/acmepay.yaml [...]`.
 * Prints OK per valid file, or each problem as `file:line:column path message` (the position where the
 * field is written; `file path message` when it has none); exits 1 when any file is invalid.
 */
import { loadProviderDefinitionFile, ProviderDefinitionError } from '../src/providers/declarative/load.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx scripts/validate-provider.ts <definition.yaml|json> [...]');
  process.exit(2);
}

let failed = false;
for (const file of files) {
  try {
    const def = await loadProviderDefinitionFile(file);
    console.log(`OK ${file} (${def.name} ${def.version})`);
  } catch (err) {
    failed = true;
    if (err instanceof ProviderDefinitionError) {
      for (const problem of err.problems) {
        const at = problem.line ? `${file}:${problem.line}:${problem.column}` : file;
        console.log(`${at} ${problem.path || '(file)'} ${problem.message}`);
      }
    } else {
      console.log(`${file}: ${(err as Error).message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
