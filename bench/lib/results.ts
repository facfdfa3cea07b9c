import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes a benchmark's report into `bench/results/<date>.json` without losing what other benchmarks
 * wrote there the same day: the payment benchmark owns the top level, every other benchmark one key
 * (`chaos`, …). Returns the file's path relative to the working directory.
 */
export function writeBenchResult(section: string | undefined, report: { date: string } & Record<string, unknown>): string {
  const dir = path.resolve('bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${report.date.slice(0, 10)}.json`);
  let existing: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      existing = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      existing = {};
    }
  }
  const merged = section ? { ...existing, [section]: report } : { ...existing, ...report };
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  return path.relative(process.cwd(), file);
}

/** A Markdown table, columns padded to their widest cell, as the benches print their results. */
export function markdownTable(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => `| ${header.map((_, i) => (cells[i] ?? '').padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
