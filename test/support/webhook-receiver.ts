import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request as the merchant's receiver saw it. */
export interface ReceivedWebhook {
  /** The `webhook-id` header: the event's id. */
  id: string;
  /** The `webhook-timestamp` header (seconds). */
  timestamp: number;
  signature: string;
  raw: string;
  body: { id: string; type: string; created_at: string; sequence: number; resource: { type: string; id: string }; data?: Record<string, unknown> };
  /** Whether the standardwebhooks package verified it with one of the receiver's secrets (signature and timestamp). */
  verified: boolean;
  /** The status the receiver answered (or meant to: a slow answer may find the caller gone). */
  status: number;
  receivedAt: number;
}

/** How to answer the n-th request (0-based) overall. */
export type Behaviour = (request: ReceivedWebhook, n: number) => { status: number; delayMs?: number; body?: string };

/**
 * A merchant's webhook receiver over real HTTP on loopback: verifies every request with the
 * standardwebhooks package (as the docs tell merchants to), keeps them all, answers as told, and can
 * go down (connections refused) and come back on the same port.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  secrets: string[] = [];
  behaviour: Behaviour = () => ({ status: 200 });
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhooks`;
  }

  /** Requests answered 2xx with a valid signature: what the merchant accepted. */
  get accepted(): ReceivedWebhook[] {
    return this.received.filter((r) => r.verified && r.status >= 200 && r.status < 300);
  }

  /** Distinct event ids in the order they were first accepted. */
  firstAccepted(): ReceivedWebhook[] {
    const seen = new Set<string>();
    return this.accepted.filter((r) => !seen.has(r.id) && seen.add(r.id));
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops open connections: the next delivery finds the port refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }

  verify(raw: string, headers: Record<string, string>): boolean {
    return this.secrets.some((secret) => {
      try {
        new Webhook(secret).verify(raw, headers);
        return true;
      } catch {
        return false;
      }
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    const received: ReceivedWebhook = {
      id: headers['webhook-id'],
      timestamp: Number(headers['webhook-timestamp']),
      signature: headers['webhook-signature'],
      raw,
      body: JSON.parse(raw) as ReceivedWebhook['body'],
      verified: this.verify(raw, headers),
      status: 0,
      receivedAt: Date.now(),
    };
    const answer = this.behaviour(received, this.received.length);
    received.status = answer.status;
    this.received.push(received);
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? `answered ${answer.status}`);
  }
}

/** Each resource's event sequences in the order they were first accepted. */
export function sequencesByResource(received: ReceivedWebhook[]): Map<string, number[]> {
  const byResource = new Map<string, number[]>();
  for (const r of received) {
    const key = `${r.body.resource.type}/${r.body.resource.id}`;
    byResource.set(key, [...(byResource.get(key) ?? []), r.body.sequence]);
  }
  return byResource;
}

/** The p-th percentile (0-100) of `values`. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
