/**
 * The code a bench runs: this checkout as it is, or a commit checked out into a git worktree of its
 * own (`.bench/worktrees/<sha>`, git-ignored) and built there, so two commits' dist/ can run side by
 * side in one run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildDist, ROOT } from './processes.js';

/** A checkout whose compiled code (`<root>/dist`) a bench runs. */
export interface CodeUnderTest {
  /** How the report names it: the ref as given, or "working tree". */
  label: string;
  /** The commit: the ref's, or the working tree's HEAD. */
  sha: string;
  /** The working tree only: it differs from HEAD (tracked files changed, or untracked ones added). */
  uncommittedChanges: boolean;
  /** Where its package.json, dist/ and providers/ are. */
  root: string;
  /** How node_modules was provided: this checkout's own, a link to it (same lock file), or an install. */
  nodeModules: 'own' | 'linked' | 'installed';
  /** Seconds `npm run build` took, 0 when the worktree's dist/ was already built from the same commit. */
  buildSeconds: number;
}

function git(args: string[], cwd = ROOT): string {
  const result = spawnSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`git ${args.join(' ')} failed (${result.status}): ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The commit `ref` names; an error that names the ref when it names none. */
export function resolveCommit(ref: string): string {
  const result = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0 || !result.stdout.trim())
    throw new Error(`"${ref}" is not a commit of this repository (git rev-parse ${ref})`);
  return result.stdout.trim();
}

/** This checkout, built now (`npm run build` into its dist/). */
export function workingTree(): CodeUnderTest {
  const buildSeconds = buildDist(ROOT);
  return {
    label: 'working tree',
    sha: git(['rev-parse', 'HEAD']),
    uncommittedChanges: git(['status', '--porcelain']) !== '',
    root: ROOT,
    nodeModules: 'own',
    buildSeconds,
  };
}

/**
 * Commit `sha` (named `ref` in the report; resolve it once with resolveCommit, so a ref that moves
 * during the run cannot change what is measured) checked out (detached) into `.bench/worktrees/<sha>`
 * and built there. node_modules is a link
 * to this checkout's when the commit's package-lock.json is the same as this checkout's, else the
 * worktree gets its own `npm install`. A worktree already built from the commit (a marker in its
 * dist/, which `npm run build` removes first) is not built again.
 */
export function committedTree(ref: string, sha: string, log: (msg: string) => void): CodeUnderTest {
  const root = path.join(ROOT, '.bench', 'worktrees', sha);
  if (!existsSync(root) || git(['rev-parse', 'HEAD'], root) !== sha) {
    if (existsSync(root)) rmSync(root, { recursive: true, force: true });
    git(['worktree', 'prune']);
    mkdirSync(path.dirname(root), { recursive: true });
    log(`git worktree add ${path.relative(ROOT, root)} (${ref})`);
    git(['worktree', 'add', '--detach', root, sha]);
  }

  const sameLock =
    git(['show', `${sha}:package-lock.json`]) ===
    readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8').trim();
  const modules = path.join(root, 'node_modules');
  const linked = existsSync(modules) && lstatSync(modules).isSymbolicLink();
  let nodeModules: CodeUnderTest['nodeModules'];
  if (sameLock) {
    if (!existsSync(modules)) symlinkSync(path.join(ROOT, 'node_modules'), modules, 'dir');
    nodeModules = existsSync(modules) && lstatSync(modules).isSymbolicLink() ? 'linked' : 'installed';
  } else {
    if (linked) rmSync(modules);
    log(`${ref}: its package-lock.json differs from this checkout's: npm install in the worktree`);
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    if (install.status !== 0)
      throw new Error(
        `npm install in ${root} failed (${install.status}):\n${`${install.stdout}${install.stderr}`.slice(-3000)}`,
      );
    nodeModules = 'installed';
  }

  const marker = path.join(root, 'dist', '.bench-built-from');
  let buildSeconds = 0;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === sha) {
    log(`${ref}: dist/ already built from ${sha.slice(0, 10)}`);
  } else {
    log(`${ref}: npm run build in ${path.relative(ROOT, root)}`);
    buildSeconds = buildDist(root);
    writeFileSync(marker, `${sha}\n`);
  }
  return { label: ref, sha, uncommittedChanges: false, root, nodeModules, buildSeconds };
}
