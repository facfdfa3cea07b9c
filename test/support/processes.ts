import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, inject, onTestFinished } from 'vitest';
import { getCurrentTest } from 'vitest/suite';
import type { TestStack } from './stack.js';

/** An entry point (API or worker) running as its own process, with its output kept for assertions. */
export interface EntryPointProcess {
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Output lines, empty ones dropped. */
  lines(): string[];
  /** Resolves once the output contains `text`; rejects on exit or after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * A spawned worker that outlives its test is not harmless: it keeps polling its task queues and relaying
 * the shared database's customer outbox, so it steals later suites' work (CI once saw a worker left by
 * a failed first attempt of a retried test break four later files). So every spawned process dies with
 * the test that started it (or the file, if started outside a test), and with the test process itself:
 * the preload below exits the child when its stdin, a pipe from us, closes.
 */
const live = new Set<ChildProcess>();
const EXIT_WITH_PARENT = fileURLToPath(new URL('./exit-with-parent.mjs', import.meta.url));
afterAll(() => {
  for (const proc of live) proc.kill('SIGKILL');
});

/**
 * Spawns `script` (a src/ TypeScript file through tsx, or a compiled dist/ file with plain node), with
 * only the given environment (plus PATH), as a deployment would run it.
 */
export function spawnEntryPoint(script: string, env: Record<string, string>): EntryPointProcess {
  const preload = ['--import', EXIT_WITH_PARENT];
  const args = script.endsWith('.ts') ? [...preload, '--import', 'tsx', script] : [...preload, script];
  const proc = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  if (getCurrentTest()) onTestFinished(() => void proc.kill('SIGKILL'));
  let output = '';
  let exited: number | null | undefined;
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  proc.on('exit', (code) => {
    live.delete(proc);
    exited = code;
    for (const l of listeners) l();
  });
  return {
    proc,
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
    output: () => output,
    lines: () => output.split('\n').filter((l) => l.trim() !== ''),
    waitFor: (text, timeoutMs = 90_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.includes(text)) done(() => resolve());
          else if (exited !== undefined) done(() => reject(new Error(`${script} exited with ${exited} before "${text}":\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no "${text}" from ${script} within ${timeoutMs} ms:\n${output}`))), timeoutMs);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      }),
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (exited !== undefined) return resolve(exited);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

/** The environment a worker process needs to serve a test stack's task queues. */
export function workerEnv(stack: TestStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    CREDENTIALS_KEYS: stack.credentialsKeys,
    PAYLOAD_CODEC_KEYS: stack.payloadCodecKeys,
    TASK_QUEUE_SUFFIX: stack.queueSuffix,
    ALLOW_PRIVATE_PROVIDER_URLS: 'true',
    HEALTH_CHECK_INTERVAL_SECONDS: '3600',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** The production worker entry point as its own process (for tests that kill it), once it is running. */
export async function startWorkerProcess(stack: TestStack, extra: Record<string, string> = {}): Promise<ChildProcess> {
  // The bundle global-setup built once: the worker starts in seconds instead of bundling again.
  const worker = spawnEntryPoint('src/workers/main.ts', workerEnv(stack, { WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'), ...extra }));
  await worker.waitFor('worker running');
  return worker.proc;
}

/** A loopback port nobody listens on (yet): bound, read, released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
