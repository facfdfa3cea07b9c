import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processSchemas } from '../../src/config/env.js';

/** The rows of the settings table in docs/configuration.md: setting, processes, default. */
function documentedSettings(): Map<string, { processes: string; defaultCell: string }> {
  const doc = readFileSync('docs/configuration.md', 'utf8');
  const section = doc.split(/^## Settings$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, { processes: string; defaultCell: string }>();
  for (const line of section.split('\n')) {
    const cells = /^\| `([A-Z0-9_]+)` \| ([^|]*) \| ([^|]*) \|/.exec(line);
    if (cells) rows.set(cells[1]!, { processes: cells[2]!.trim(), defaultCell: cells[3]!.trim() });
  }
  return rows;
}

/** Each setting with the processes whose schema reads it, in processSchemas order. */
function schemaSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const [process, schema] of Object.entries(processSchemas)) {
    for (const key of Object.keys(schema.shape)) settings.set(key, [...(settings.get(key) ?? []), process]);
  }
  return settings;
}

describe('docs/configuration.md', () => {
  const documented = documentedSettings();
  const settings = schemaSettings();

  it('has one row for every setting of every process schema, and no other', () => {
    expect([...settings.keys()].filter((k) => !documented.has(k)), 'settings missing from the table').toEqual([]);
    expect([...documented.keys()].filter((k) => !settings.has(k)), 'rows no schema reads').toEqual([]);
  });

  it('names the processes that read each setting', () => {
    for (const [key, processes] of settings) expect(documented.get(key)?.processes, key).toBe(processes.join(', '));
  });

  it("states each setting's default", () => {
    for (const [key, processes] of settings) {
      for (const process of processes) {
        const field = processSchemas[process as keyof typeof processSchemas].shape as Record<string, { safeParse(v: undefined): { success: boolean; data?: unknown } }>;
        const parsed = field[key]!.safeParse(undefined);
        if (parsed.success && parsed.data !== undefined) expect(documented.get(key)?.defaultCell, `${key} (${process})`).toContain(`\`${String(parsed.data)}\``);
      }
    }
  });
});
