import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEntryPoint, workerEnv, type EntryPointProcess } from '../support/processes.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * The packages compiled code imports (bare specifiers of static and dynamic imports, Node's own
 * modules left out). The workflow bundles are left out too: webpack already inlined what they use.
 */
function packagesImportedUnder(dir: string): Set<string> {
  const found = new Set<string>();
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.js') && !f.startsWith('workflow-bundle'))) {
    const code = readFileSync(path.join(dir, file), 'utf8');
    const statements = /^(?:(?:import|export)\b[^;'"]*?\bfrom|import)\s*['"]([^'"]+)['"]/gm;
    const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
    for (const m of [...code.matchAll(statements), ...code.matchAll(dynamic)]) {
      const spec = m[1]!;
      if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
      found.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return found;
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => f.split(path.sep).join('/'));
}

let stack: TestStack;
const running: EntryPointProcess[] = [];
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await stack?.close();
});

describe('npm run build', () => {
  it('compiles to dist/ with a prebuilt workflow bundle, and the compiled API and worker start with plain node', async () => {
    await promisify(execFile)('npm', ['run', 'build'], { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    const files = filesUnder('dist');
    expect(files).toEqual(expect.arrayContaining(['api/main.js', 'workers/main.js', 'workflow-bundle.js', 'workflow-bundle-traced.js', 'db/migrations/0000_init.sql', 'db/migrations/meta/_journal.json']));
    // Development-only code stays out: the dev stack, emulators, tests, and no TypeScript sources.
    expect(files.filter((f) => /^(dev|emulators|test)\//.test(f) || /\.test\.js$|\.ts$/.test(f))).toEqual([]);
    // The image installs production dependencies only (`npm install --omit=dev`): compiled code may
    // import nothing else (tsx, vitest, @temporalio/testing...).
    const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const imported = packagesImportedUnder('dist');
    expect(imported.size).toBeGreaterThan(10);
    expect([...imported].filter((name) => !(name in dependencies)).sort(), 'imported by dist/ but not a production dependency').toEqual([]);

    const worker = spawnEntryPoint('dist/workers/main.js', workerEnv(stack));
    running.push(worker);
    const api = spawnEntryPoint('dist/api/main.js', { ...workerEnv(stack), ADMIN_TOKEN: stack.adminToken, PORT: '0' });
    running.push(api);
    await Promise.all([worker.waitFor('worker running'), api.waitFor('api listening')]);

    // The worker loaded the bundle built above instead of running webpack at start.
    const bundleLine = worker.lines().map((l) => JSON.parse(l) as { msg: string; source?: string }).find((e) => e.msg === 'workflow bundle');
    expect(bundleLine?.source).toBe(path.resolve('dist/workflow-bundle.js'));
    const url = (JSON.parse(api.lines().find((l) => l.includes('api listening'))!) as { url: string }).url;
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);

    expect(await api.stop('SIGTERM')).toBe(0);
    expect(await worker.stop('SIGTERM')).toBe(0);
  }, 400_000);
});
