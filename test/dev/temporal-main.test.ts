import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { freePort, spawnEntryPoint } from '../support/processes.js';

/** Resolves with whether something accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm run temporal', () => {
  it('keeps the dev server running until SIGINT, then stops it and exits 0', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const address = `127.0.0.1:${port}`;
    const server = spawnEntryPoint('src/dev/temporal-main.ts', {
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'temporal-main-')),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    });
    await server.waitFor('Ctrl+C stops it');

    const answers = async () => {
      const connection = await Connection.connect({ address, connectTimeout: 5_000 });
      try {
        return (await connection.workflowService.getSystemInfo({})).serverVersion;
      } finally {
        await connection.close();
      }
    };
    expect(await answers()).toBeTruthy();

    // Before the fix the process ended by itself (exit 0) about 6 s after start-up, taking the server along.
    const early = await Promise.race([server.exited.then((code) => `exited with ${code}`), delay(10_000, 'running')]);
    expect(early, server.output()).toBe('running');
    expect(await answers()).toBeTruthy();

    expect(await server.stop('SIGINT')).toBe(0);
    expect(await listening(port)).toBe(false);
    expect(await listening(uiPort)).toBe(false);
  }, 60_000);
});
