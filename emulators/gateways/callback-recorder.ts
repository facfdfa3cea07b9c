/**
 * A local HTTP endpoint that records gateway callbacks byte for byte (raw body and headers), for
 * tests and demos that need to receive an emulator's webhooks.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCallback {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface CallbackRecorder {
  url: string;
  received: RecordedCallback[];
  /** Resolves with the next callback not yet taken (waits up to timeoutMs). */
  next(timeoutMs?: number): Promise<RecordedCallback>;
  /** Forgets everything received so far. */
  clear(): void;
  close(): Promise<void>;
}

export async function startCallbackRecorder(status = 200): Promise<CallbackRecorder> {
  const received: RecordedCallback[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, rawBody: Buffer.concat(chunks) });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"received":true}');
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callbacks`,
    received,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length <= taken) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error('No callback received in time');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return received[taken++] as RecordedCallback;
    },
    clear() {
      received.splice(0);
      taken = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
