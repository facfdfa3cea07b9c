import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedWebhookHeaders } from '../../src/activities/events/webhook-delivery-activities.js';
import { newEndpointSecret } from '../../src/stores/events/webhook-endpoint-store.js';
import { eventually } from '../support/customers-fixture.js';
import { createEndpoint, emit, type EventsTenant } from '../support/events-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver.js';

/**
 * The verification snippets of docs/webhooks.md, taken from the page as it is and run as a merchant
 * would run them (Node with the standardwebhooks package, Python with its standard library) against
 * requests that Switchyard's delivery really sent: what the docs show is what works.
 */
const DOC = readFileSync('docs/webhooks.md', 'utf8');

/** The fenced block after `<!-- snippet: <name> ... -->`. */
function snippet(name: string): string {
  const m = new RegExp(`<!-- snippet: ${name}\\b[^>]*-->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(DOC);
  if (!m) throw new Error(`docs/webhooks.md has no snippet ${name}`);
  return m[1]!;
}

type Headers = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;
interface Request {
  raw: string;
  headers: Headers;
}

function run(cmd: string, args: string[], input: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** The Node snippet as a module of its own, its secret from the environment as the page says. */
async function verifyWithNode(secret: string, req: Request): Promise<{ ok: boolean; event?: unknown; error?: string }> {
  const harness = `
import { readFileSync as readInput } from 'node:fs';
const input = JSON.parse(readInput(0, 'utf8'));
try {
  console.log(JSON.stringify({ ok: true, event: verifiedEvent(input.raw, input.headers) }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: err.name + ': ' + err.message }));
}`;
  const out = await run(process.execPath, ['--input-type=module', '-e', `${snippet('verify-node')}\n${harness}`], JSON.stringify(req), {
    SWITCHYARD_WEBHOOK_SECRET: secret,
  });
  return JSON.parse(out) as { ok: boolean; event?: unknown; error?: string };
}

async function verifyWithPython(secret: string, req: Request): Promise<boolean> {
  const harness = `
import json, sys
req = json.load(sys.stdin)
print(json.dumps(verify(req["secret"], req["raw"].encode(), req["headers"])))`;
  return JSON.parse(await run('python3', ['-c', `${snippet('verify-python')}\n${harness}`], JSON.stringify({ secret, ...req }))) as boolean;
}

/** Whether each snippet accepts the request (the Node one must also hand back the body it verified). */
async function verdicts(secret: string, req: Request): Promise<{ node: boolean; python: boolean }> {
  const [node, python] = await Promise.all([verifyWithNode(secret, req), verifyWithPython(secret, req)]);
  if (node.ok) expect(node.event).toEqual(JSON.parse(req.raw));
  return { node: node.ok, python };
}

function asRequest(r: ReceivedWebhook): Request {
  return { raw: r.raw, headers: { 'webhook-id': r.id, 'webhook-timestamp': String(r.timestamp), 'webhook-signature': r.signature } };
}

let stack: TestStack;
const receiver = new WebhookReceiver();
beforeAll(async () => {
  stack = await startTestStack({ webhookSettings: { firstRetryDelayMs: 250, timeoutMs: 2_000 } });
  await receiver.up();
});
afterAll(async () => {
  await receiver.down();
  await stack?.close();
});

describe("docs/webhooks.md's verification snippets", () => {
  it('accept a real delivery, refuse it altered, under another secret or replayed late, and take either secret during a rotation', async () => {
    const created = await stack.createTenant();
    const t: EventsTenant = { id: created.id, auth: created.auth };
    const endpoint = await createEndpoint(stack, t, receiver, { eventTypes: ['payment.*'] });
    const event = await emit(stack, t.id, 'payment.succeeded', { type: 'payment', id: 'pay_docs' }, { id: 'pay_docs', status: 'succeeded', amount: 4999 });
    const delivered = await eventually('the delivery', () => receiver.accepted.find((r) => r.id === event.id));
    const real = asRequest(delivered);
    expect(JSON.parse(real.raw)).toMatchObject({ id: event.id, type: 'payment.succeeded', sequence: 1, resource: { type: 'payment', id: 'pay_docs' } });

    expect(await verdicts(endpoint.secret, real)).toEqual({ node: true, python: true });
    // One byte of the body changed (the amount), or the wrong secret: refused.
    expect(await verdicts(endpoint.secret, { ...real, raw: real.raw.replace('4999', '4998') })).toEqual({ node: false, python: false });
    expect(await verdicts(newEndpointSecret(), real)).toEqual({ node: false, python: false });
    // The same request resent ten minutes later: its signature is genuine, its timestamp too old. Signed
    // again now by the delivery's own code, the same bytes pass: the timestamp is what refused it.
    const at = (ms: number) => signedWebhookHeaders({ current: endpoint.secret }, event.id, new Date(ms), real.raw) as unknown as Headers;
    expect(await verdicts(endpoint.secret, { raw: real.raw, headers: at(Date.now() - 10 * 60_000) })).toEqual({ node: false, python: false });
    expect(await verdicts(endpoint.secret, { raw: real.raw, headers: at(Date.now()) })).toEqual({ node: true, python: true });

    // A rotation: the next delivery carries two signatures, and each secret verifies it alone.
    const rotated = await request(stack.app).post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`).set(t.auth).send({}).expect(200);
    const newSecret = rotated.body.secret as string;
    receiver.secrets.push(newSecret);
    const next = await emit(stack, t.id, 'payment.refunded', { type: 'payment', id: 'pay_docs' }, { id: 'pay_docs', status: 'refunded' });
    const during = asRequest(await eventually('the delivery after the rotation', () => receiver.accepted.find((r) => r.id === next.id)));
    expect(during.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(JSON.parse(during.raw)).toMatchObject({ sequence: 2 });
    expect(await verdicts(endpoint.secret, during)).toEqual({ node: true, python: true });
    expect(await verdicts(newSecret, during)).toEqual({ node: true, python: true });
  });
});
