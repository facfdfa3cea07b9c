import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { z } from 'zod';
import { providerDefinitionSchema, type ProviderDefinition } from './definition.js';
import { DefinitionSourceError, readDefinitionSource, type DefinitionSource, type SourcePosition } from './definition-source.js';

export type DefinitionFormat = 'yaml' | 'json';

export interface DefinitionProblem extends Partial<SourcePosition> {
  /** Dotted path of the offending field, e.g. 'actions.authorize.response.status'; '' for the file. */
  path: string;
  message: string;
}

/** A definition file failed to parse or validate; `problems` lists every issue with its path. */
export class ProviderDefinitionError extends Error {
  override readonly name = 'ProviderDefinitionError';
  constructor(
    readonly source: string,
    readonly problems: DefinitionProblem[],
  ) {
    super(
      `${source}: invalid provider definition\n${problems.map((p) => `  - ${p.path || '(file)'}: ${p.message}${p.line ? ` (line ${p.line}, column ${p.column})` : ''}`).join('\n')}`,
    );
  }
}

/** One or more files of a folder are invalid; `failures` holds one error per file. */
export class ProviderDefinitionsError extends Error {
  override readonly name = 'ProviderDefinitionsError';
  constructor(readonly failures: ProviderDefinitionError[]) {
    super(failures.map((f) => f.message).join('\n'));
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc === '' ? String(key) : `${acc}.${String(key)}`;
  }, '');
}

/**
 * Where a zod issue's field is written: the field itself, or for an unknown key that key (the issue's
 * path is then the object holding it).
 */
export function issuePosition(issue: z.core.$ZodIssue, source: DefinitionSource): SourcePosition | undefined {
  const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  return source.locate(issue.path, key);
}

function problemsFrom(error: z.ZodError, source?: DefinitionSource): DefinitionProblem[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
    ...(source ? issuePosition(issue, source) : {}),
  }));
}

/** Parses and validates a definition's text. `source` names the file in errors. */
export function parseProviderDefinition(
  text: string,
  format: DefinitionFormat,
  source = '<inline>',
): ProviderDefinition {
  let read: DefinitionSource;
  try {
    read = readDefinitionSource(text, format);
  } catch (err) {
    if (!(err instanceof DefinitionSourceError)) throw err;
    throw new ProviderDefinitionError(source, [{ path: '', message: err.message, ...err.position }]);
  }
  const result = providerDefinitionSchema.safeParse(read.value);
  if (!result.success) throw new ProviderDefinitionError(source, problemsFrom(result.error, read));
  return result.data;
}

/** Validates an already parsed definition object. */
export function validateProviderDefinition(raw: unknown, source = '<inline>'): ProviderDefinition {
  const result = providerDefinitionSchema.safeParse(raw);
  if (!result.success) throw new ProviderDefinitionError(source, problemsFrom(result.error));
  return result.data;
}

/** The format implied by a file name, or null for files that are not definitions. */
export function definitionFormatOf(file: string): DefinitionFormat | null {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  return null;
}

/** Reads and validates one definition file. */
export async function loadProviderDefinitionFile(file: string): Promise<ProviderDefinition> {
  const format = definitionFormatOf(file);
  if (!format)
    throw new ProviderDefinitionError(file, [{ path: '', message: 'expected a .yaml, .yml or .json file' }]);
  return parseProviderDefinition(await readFile(file, 'utf8'), format, file);
}

/**
 * Reads every *.yaml|*.yml|*.json file in `dir` (not recursive), validates all of them and throws one
 * error listing every problem of every file (and duplicate provider names).
 */
export async function loadProviderDefinitions(dir: string): Promise<ProviderDefinition[]> {
  const files = (await readdir(dir)).filter((f) => definitionFormatOf(f) !== null).sort();
  const definitions: ProviderDefinition[] = [];
  const failures: ProviderDefinitionError[] = [];
  const byName = new Map<string, string>();
  for (const file of files) {
    const path = join(dir, file);
    try {
      const def = await loadProviderDefinitionFile(path);
      const other = byName.get(def.name);
      if (other) {
        failures.push(
          new ProviderDefinitionError(path, [
            { path: 'name', message: `provider '${def.name}' is already defined in ${other}` },
          ]),
        );
        continue;
      }
      byName.set(def.name, path);
      definitions.push(def);
    } catch (err) {
      if (err instanceof ProviderDefinitionError) failures.push(err);
      else throw err;
    }
  }
  if (failures.length > 0) {
    throw new ProviderDefinitionsError(failures);
  }
  return definitions;
}
