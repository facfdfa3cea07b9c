import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateProviderDefinition } from '../../src/providers/declarative/load.js';
import { connectorSchema } from '../../src/providers/erp/connector-definition.js';

/**
 * docs/connecting-a-system.md stays true: every YAML block is a complete definition or connector
 * (`# definition <name>`, `# connector <name>`) or a piece of one (`# fragment of <name>`), and each
 * validates with the real schemas; every link (file and anchor) resolves; every cookbook chapter links
 * a test.
 */
const GUIDE = 'docs/connecting-a-system.md';
const guide = readFileSync(GUIDE, 'utf8');

type Kind = 'definition' | 'connector';
interface Block {
  marker: string;
  line: number;
  text: string;
}

function yamlBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```yaml\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    const text = m[1]!;
    blocks.push({ marker: text.split('\n')[0]!.trim(), line: markdown.slice(0, m.index).split('\n').length, text });
  }
  return blocks;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The guide's rule: objects merge key by key, lists and values replace, an object with `type` replaces whole. */
function mergeInto(base: unknown, piece: unknown): unknown {
  if (!isObject(base) || !isObject(piece) || 'type' in piece) return piece;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(piece)) out[key] = key in base ? mergeInto(base[key], value) : value;
  return out;
}

function validate(kind: Kind, value: unknown, where: string): void {
  if (kind === 'definition') validateProviderDefinition(value, where);
  else {
    const result = connectorSchema.safeParse(value);
    if (!result.success) throw new Error(`${where}: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    anchors.add(heading!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return anchors;
}

/** The guide without its code blocks (YAML comments start with `#` too). */
const prose = guide.replace(/^```[\s\S]*?^```$/gm, '');

describe(GUIDE, () => {
  const blocks = yamlBlocks(guide);

  it('marks every YAML block as a definition, a connector or a fragment of one', () => {
    expect(blocks.length).toBeGreaterThan(20);
    const unmarked = blocks.filter((b) => !/^# (definition|connector) [a-z-]+$|^# fragment of [a-z-]+$/.test(b.marker));
    expect(unmarked.map((b) => `line ${b.line}: ${b.marker}`)).toEqual([]);
  });

  it('has every block validate with the real schemas, fragments merged into their skeleton', () => {
    const skeletons = new Map<string, { kind: Kind; value: unknown }>();
    const failures: string[] = [];
    for (const block of blocks) {
      const where = `${GUIDE} line ${block.line}`;
      try {
        const value: unknown = parse(block.text);
        const whole = /^# (definition|connector) ([a-z-]+)$/.exec(block.marker);
        if (whole) {
          validate(whole[1] as Kind, value, where);
          skeletons.set(whole[2]!, { kind: whole[1] as Kind, value });
          continue;
        }
        const name = /^# fragment of ([a-z-]+)$/.exec(block.marker)?.[1] ?? '';
        const skeleton = skeletons.get(name);
        if (!skeleton) throw new Error(`${where}: no skeleton '${name}' above this fragment`);
        validate(skeleton.kind, mergeInto(skeleton.value, value), where);
      } catch (err) {
        const message = (err as Error).message;
        failures.push(message.includes(where) ? message : `${where}: ${message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('links only files and headings that exist', () => {
    const broken: string[] = [];
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const path = file ? resolve(dirname(GUIDE), file) : resolve(GUIDE);
      if (!existsSync(path)) broken.push(target!);
      else if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(path, 'utf8')).has(anchor)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });

  it('backs every cookbook chapter with a linked test', () => {
    const chapters = prose.split(/^(?=## )/m).filter((c) => c.startsWith('## Cookbook'));
    expect(chapters.length).toBeGreaterThan(10);
    expect(chapters.filter((c) => !/\]\(\.\.\/test\/[^)]+\.test\.ts\)/.test(c)).map((c) => c.split('\n')[0])).toEqual([]);
  });
});
