/**
 * The demo's stand-in for a merchant's webhook receiver: a plain node:http server that verifies every
 * request with the `standardwebhooks` package, exactly as docs/webhooks.md tells merchants to, and
 * prints one line per event. `npm run dev` points the demo tenant's webhook endpoint at it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** An event whose signature verified, as the receiver took it. */
export interface DemoReceivedEvent {
  /** The `webhook-id` header (the event's id: the same on every retry and redelivery). */
  webhookId: string;
  body: { id: string; type: string; created_at: string; sequence: number; resource: { type: string; id: string }; data?: Record<string, unknown> };
  /** Whether an earlier request carried the same `webhook-id` (a retry, a redelivery or a replay). */
  repeat: boolean;
}

export interface DemoWebhookReceiver {
  /** Where to POST: `http://127.0.0.1:<port>/webhooks`. */
  url: string;
  /** The endpoint's signing secret (`whsec_...`); until it is set, every request is refused. */
  setSecret(secret: string): void;
  /** Every verified event, in the order it arrived. */
  readonly received: readonly DemoReceivedEvent[];
  /** Requests refused because their signature or timestamp did not verify. */
  refused(): number;
  /** Resolves with the first verified event `match` accepts (already received or still to come), or undefined after `timeoutMs`. */
  waitFor(match: (event: DemoReceivedEvent) => boolean, timeoutMs: number): Promise<DemoReceivedEvent | undefined>;
  close(): Promise<void>;
}

/** Bodies larger than this are refused (Switchyard's events are a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

export async function startDemoWebhookReceiver(
  port: number,
  print: (line: string) => void = console.log,
): Promise<DemoWebhookReceiver> {
  let webhook: Webhook | undefined;
  const received: DemoReceivedEvent[] = [];
  let refused = 0;
  const seen = new Set<string>();
  const waiters = new Set<{ match: (e: DemoReceivedEvent) => boolean; resolve: (e: DemoReceivedEvent) => void }>();
  const sockets = new Set<Socket>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).byteLength;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    // Verify the raw bytes as they arrived: re-serialized JSON would not match the signature.
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: DemoReceivedEvent['body'];
    try {
      if (!webhook) throw new Error('no signing secret yet');
      body = webhook.verify(raw, req.headers as Record<string, string>) as DemoReceivedEvent['body'];
    } catch (err) {
      refused += 1;
      print(`[receiver] refused a request: ${(err as Error).message}`);
      res.writeHead(400, { 'content-type': 'text/plain' }).end('signature not verified');
      return;
    }
    const webhookId = String(req.headers['webhook-id']);
    const event: DemoReceivedEvent = { webhookId, body, repeat: seen.has(webhookId) };
    seen.add(webhookId);
    received.push(event);
    print(`[receiver] received ${body.type} ${body.resource.id} (sequence ${body.sequence}, verified${event.repeat ? ', a repeat' : ''})`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    for (const w of waiters) {
      if (w.match(event)) {
        waiters.delete(w);
        w.resolve(event);
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;

  return {
    url,
    setSecret: (secret) => {
      webhook = new Webhook(secret);
    },
    received,
    refused: () => refused,
    waitFor: (match, timeoutMs) => {
      const already = received.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => {
        const waiter = { match, resolve: (e: DemoReceivedEvent) => (clearTimeout(timer), resolve(e)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
