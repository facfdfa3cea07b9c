/**
 * A definition's text (YAML or JSON) read with the positions of its fields, so a validation problem
 * can say on which line and column the field is written. Text is hostile until checked: YAML nesting
 * is bounded before the (recursive) composer sees it, alias expansion is capped, tags resolve only in
 * YAML 1.2's core schema (an unknown tag such as !!js/function is refused, nothing is ever executed),
 * and the value must be plain JSON of bounded size.
 */
import {
  CST,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
} from 'yaml';

/** Deepest nesting accepted (the API's JSON bodies have the same limit). */
export const MAX_DEFINITION_DEPTH = 64;
/**
 * Aliases one document may expand (the `yaml` package's maxAliasCount, which also counts the aliases
 * inside what an alias points to): generous for anchors reused as shared headers, and stops a "billion
 * laughs" document of a few hundred bytes from expanding to gigabytes.
 */
export const MAX_ALIAS_COUNT = 100;
/** Largest definition once aliases are expanded, as the JSON it is stored as. */
export const MAX_EXPANDED_BYTES = 1024 * 1024;

export type SourceFormat = 'yaml' | 'json';

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

/** The text could not be read as a definition: not YAML/JSON, or refused by a guard. */
export class DefinitionSourceError extends Error {
  override readonly name = 'DefinitionSourceError';
  constructor(
    message: string,
    readonly position?: SourcePosition,
  ) {
    super(position ? `${message} (line ${position.line}, column ${position.column})` : message);
  }
}

export interface DefinitionSource {
  value: unknown;
  /**
   * Where the field at `path` (a zod issue path) is written: its key, or its item in a list. A field
   * that is missing points at the nearest ancestor that is there; `key` (an unrecognized key of the
   * object at `path`) points at that key.
   */
  locate(path: readonly PropertyKey[], key?: string): SourcePosition | undefined;
}

/**
 * Refuses YAML that nests deeper than {@link MAX_DEFINITION_DEPTH}, before it is composed: the
 * composer recurses per level and gave up only by exhausting the stack (a 100 KB line of `[` or of
 * `- - - …` took seconds and once the process's memory). Iterative over the lexer's tokens, which
 * know quoting: flow brackets are counted exactly; block nesting needs a new indentation per level,
 * so only the indicators stacked on one line (`- - - x`, `? - ? -`) are counted.
 */
function checkYamlNesting(text: string): void {
  const lines = new LineCounter();
  lines.addNewLine(0);
  let flow = 0;
  let onLine = 0;
  let offset = 0;
  let scalarSource = false;
  for (const token of new Lexer().lex(text)) {
    const at = offset;
    offset += token.length;
    if (scalarSource) {
      // The source of a plain or block scalar follows its marker: '-' or '[' there are text.
      scalarSource = false;
      continue;
    }
    if (token === CST.SCALAR) {
      scalarSource = true;
      continue;
    }
    let depth = 0;
    switch (CST.tokenType(token)) {
      case 'flow-map-start':
      case 'flow-seq-start':
        depth = ++flow;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        flow--;
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        // Inside brackets these separate entries (a one-line JSON object has hundreds), nesting is the brackets'.
        if (flow === 0) depth = ++onLine;
        break;
      case 'newline':
        onLine = 0;
        lines.addNewLine(offset);
        break;
    }
    if (depth > MAX_DEFINITION_DEPTH) {
      throw new DefinitionSourceError(`nested deeper than ${MAX_DEFINITION_DEPTH} levels`, positionAt(lines, at));
    }
  }
}

function positionAt(lines: LineCounter, offset: number): SourcePosition {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** Numbers JSON cannot hold (.inf, .nan) and NUL characters are refused, naming where they are. */
function checkJsonValue(value: unknown): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const at = node.path || '(root)';
    if (typeof node.value === 'number' && !Number.isFinite(node.value)) return `${at}: ${node.value} is not a number JSON can hold`;
    if (typeof node.value === 'string' && node.value.includes('\u0000')) return `${at}: contains a NUL character (\\u0000)`;
    if (!node.value || typeof node.value !== 'object') continue;
    if (node.depth >= MAX_DEFINITION_DEPTH) return `${at}: nested deeper than ${MAX_DEFINITION_DEPTH} levels`;
    for (const [key, child] of Object.entries(node.value)) {
      stack.push({ value: child, path: node.path ? `${node.path}.${key}` : key, depth: node.depth + 1 });
    }
  }
  return undefined;
}

/** Composes YAML 1.2 (JSON is YAML 1.2 too) keeping node ranges; the guards of this module applied. */
function composeYaml(text: string, lines: LineCounter): Document.Parsed {
  checkYamlNesting(text);
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const [error] = doc.errors;
  if (error) throw new DefinitionSourceError(`not valid YAML: ${error.message}`, positionAt(lines, error.pos[0]));
  const unknownTag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (unknownTag) {
    throw new DefinitionSourceError(
      `${unknownTag.message}: a definition uses plain YAML 1.2 values only (no custom or language tags)`,
      positionAt(lines, unknownTag.pos[0]),
    );
  }
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && !isScalar(pair.key)) {
        const start = (pair.key as Node | null)?.range?.[0] ?? 0;
        throw new DefinitionSourceError('a key must be a plain string, not a list or an object', positionAt(lines, start));
      }
    },
  });
  return doc;
}

/** The node of a key (for a map entry) or of the item (for a list), and the node's value. */
function childOf(node: unknown, key: PropertyKey): { at: Node | undefined; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
    return pair ? { at: (pair.key as Node) ?? undefined, value: pair.value } : undefined;
  }
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key];
    return item === undefined ? undefined : { at: item as Node, value: item };
  }
  return undefined;
}

function locator(doc: Document.Parsed, lines: LineCounter): DefinitionSource['locate'] {
  return (path, key) => {
    let node: unknown = doc.contents;
    let at: Node | undefined = doc.contents ?? undefined;
    for (const step of key === undefined ? path : [...path, key]) {
      const child = childOf(node, step);
      if (!child) break;
      at = child.at ?? at;
      node = child.value;
    }
    return at?.range ? positionAt(lines, at.range[0]) : undefined;
  };
}

/**
 * Reads a definition's text. YAML: composed with the guards above, aliases expanded up to
 * {@link MAX_ALIAS_COUNT}. JSON: JSON.parse (the value is exactly what a JSON client meant), with the
 * positions taken from the same text read as YAML 1.2 only when a problem is to be located.
 */
export function readDefinitionSource(text: string, format: SourceFormat): DefinitionSource {
  const lines = new LineCounter();
  let value: unknown;
  let locate: DefinitionSource['locate'];
  if (format === 'json') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new DefinitionSourceError(`not valid JSON: ${(err as Error).message}`);
    }
    let located: DefinitionSource['locate'] | null | undefined;
    locate = (path, key) => {
      if (located === undefined) {
        try {
          located = locator(composeYaml(text, lines), lines);
        } catch {
          located = null; // valid JSON that YAML reads differently: no positions, the problems stand
        }
      }
      return located?.(path, key);
    };
  } else {
    const doc = composeYaml(text, lines);
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      // The yaml package refuses excessive aliasing with a ReferenceError ("resource exhaustion attack").
      throw new DefinitionSourceError(`aliases expand too much (at most ${MAX_ALIAS_COUNT}): ${(err as Error).message}`);
    }
    locate = locator(doc, lines);
  }
  const problem = checkJsonValue(value);
  if (problem) throw new DefinitionSourceError(problem, undefined);
  if (Buffer.byteLength(JSON.stringify(value) ?? '') > MAX_EXPANDED_BYTES) {
    throw new DefinitionSourceError(`the definition is larger than ${MAX_EXPANDED_BYTES} bytes once its aliases are expanded`);
  }
  return { value, locate };
}
