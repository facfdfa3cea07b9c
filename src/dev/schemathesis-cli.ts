import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { TOOLS_DIR } from './temporal-cli.js';

/** Pinned release of schemathesis (PyPI), the property-based API tester run over /openapi.json. */
export const SCHEMATHESIS_VERSION = '4.32.5';

/**
 * The `st` executable of a project-local schemathesis, installed on first use into a virtualenv under
 * .tools/ (a venv rather than `pip --target`, so its console script runs with its own packages).
 * Asynchronous on purpose: the install takes a minute or more, and a test process whose event loop is
 * blocked that long misses its RPC deadline with the test runner (vitest reports it as an error).
 */
export async function locateSchemathesis(): Promise<string> {
  const venv = path.join(TOOLS_DIR, `schemathesis-${SCHEMATHESIS_VERSION}`);
  const st = path.join(venv, 'bin', 'st');
  if (existsSync(st)) return st;
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) throw new Error('schemathesis needs Python 3.9+ (python3 on PATH) to be installed into .tools/');
  console.log(`[schemathesis] installing schemathesis==${SCHEMATHESIS_VERSION} into ${venv} (one time)`);
  const run = promisify(execFile);
  await run(python, ['-m', 'venv', '--clear', venv]);
  await run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], {
    maxBuffer: 16 * 1024 * 1024,
  });
  if (!existsSync(st)) throw new Error(`schemathesis installed but ${st} is missing`);
  return st;
}
