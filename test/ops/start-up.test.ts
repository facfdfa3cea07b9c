import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes.js';
import { StartupError } from '../../src/start-up.js';
import { ensureSearchAttributes } from '../../src/temporal/register-search-attributes.js';
import { freePort, spawnEntryPoint } from '../support/processes.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/** A port nobody listens on (yet): bound, read, released. */
/** A TCP relay to Temporal on a given port: "Temporal comes up" when it starts. */
async function relayTo(target: string, port: number): Promise<Server> {
  const [host, targetPort] = target.split(':') as [string, string];
  const server = createServer((socket) => {
    const upstream = connect(Number(targetPort), host);
    socket.pipe(upstream).pipe(socket);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});
afterAll(async () => stack?.close());

const baseEnv = () => ({
  DATABASE_URL: inject('databaseUrl'),
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  CREDENTIALS_KEYS: stack.credentialsKeys,
  PAYLOAD_CODEC_KEYS: stack.payloadCodecKeys,
  ADMIN_TOKEN: stack.adminToken,
  TASK_QUEUE_SUFFIX: stack.queueSuffix,
  HEALTH_CHECK_INTERVAL_SECONDS: '3600',
  PORT: '0',
  STARTUP_RETRY_DELAY_MS: '300',
});

/** Every line is one JSON event, and no line is a stack frame. */
function expectJsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.map((l) => {
    expect(l).not.toMatch(/^\s+at /);
    return JSON.parse(l) as Record<string, unknown>;
  });
}

describe('start-up', () => {
  it('the API retries an unreachable database with a line per attempt, then exits 1 naming it, without a stack trace', async () => {
    const port = await freePort();
    const api = spawnEntryPoint('src/api/main.ts', { ...baseEnv(), DATABASE_URL: `postgres://u:hunter2@127.0.0.1:${port}/db`, STARTUP_RETRY_ATTEMPTS: '3' });
    expect(await api.exited).toBe(1);
    const events = expectJsonLines(api.lines());
    expect(events.filter((e) => e.msg === 'waiting for the database')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ level: 'error', msg: expect.stringMatching(/^api cannot start: the database still unreachable after 3 attempts/) });
    expect(api.output()).not.toContain('hunter2');
  });

  it('API and worker name every missing setting and what it looks like at once, before waiting for anything', async () => {
    const port = await freePort();
    const { PAYLOAD_CODEC_KEYS: _codec, ADMIN_TOKEN: _admin, ...env } = { ...baseEnv(), DATABASE_URL: `postgres://u@127.0.0.1:${port}/db`, STARTUP_RETRY_ATTEMPTS: '3' };
    const [api, worker] = [spawnEntryPoint('src/api/main.ts', env), spawnEntryPoint('src/workers/main.ts', env)];
    expect(await api.exited).toBe(1);
    expect(await worker.exited).toBe(1);
    const codec = 'PAYLOAD_CODEC_KEYS (p1:$(openssl rand -base64 32), other keys than CREDENTIALS_KEYS)';
    expect(expectJsonLines(api.lines())).toEqual([
      expect.objectContaining({ level: 'error', msg: `api cannot start: Missing configuration: ${codec}, ADMIN_TOKEN (at least 24 random characters); see docs/configuration.md` }),
    ]);
    expect(expectJsonLines(worker.lines())).toEqual([
      expect.objectContaining({ level: 'error', msg: `worker cannot start: Missing configuration: ${codec}; see docs/configuration.md` }),
    ]);
  });

  it('the worker retries Temporal until it comes up, then runs', async () => {
    const port = await freePort();
    const worker = spawnEntryPoint('src/workers/main.ts', { ...baseEnv(), TEMPORAL_ADDRESS: `127.0.0.1:${port}`, STARTUP_RETRY_ATTEMPTS: '200' });
    let relay: Server | undefined;
    try {
      await worker.waitFor('waiting for Temporal');
      relay = await relayTo(inject('temporalAddress'), port);
      await worker.waitFor('worker running');
      expect(await worker.stop('SIGTERM')).toBe(0);
      const events = expectJsonLines(worker.lines());
      expect(events.find((e) => e.msg === 'waiting for Temporal')).toMatchObject({ level: 'warn', attempt: 1, of: 200 });
    } finally {
      await worker.stop('SIGKILL');
      relay?.close();
    }
  });
});

describe('search attributes', () => {
  it('are registered on a namespace that lacks them', async () => {
    const namespace = `sa-${randomUUID().slice(0, 8)}`;
    await stack.temporal.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection, namespace });
      const deadline = Date.now() + 30_000;
      let registered: string[] | undefined;
      // A new namespace takes a moment to be known to every service.
      while (!registered) {
        try {
          registered = (await ensureSearchAttributes(client, namespace)).registered;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      expect(registered.sort()).toEqual(CUSTOM_SEARCH_ATTRIBUTES.map((a) => a.name).sort());
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      for (const a of CUSTOM_SEARCH_ATTRIBUTES) expect(customAttributes).toHaveProperty(a.name);
      expect((await ensureSearchAttributes(client, namespace)).registered).toEqual([]);
    } finally {
      await connection.close();
    }
  });

  it('stop start-up naming the missing ones and the command when they cannot be registered', async () => {
    const namespace = `missing-${randomUUID().slice(0, 8)}`;
    const client = new Client({ connection: stack.temporal.connection, namespace });
    const failure = await ensureSearchAttributes(client, namespace).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StartupError);
    const message = (failure as Error).message;
    for (const a of CUSTOM_SEARCH_ATTRIBUTES) {
      expect(message).toContain(`temporal operator search-attribute create --namespace ${namespace} --name ${a.name} --type Keyword`);
    }
  });
});
