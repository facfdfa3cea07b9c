/**
 * A card token a gateway echoes back in its error text (an AcmePay stand-in that answers every charge
 * with "card <token> is not valid", as real gateways do with "No such PaymentMethod: 'pm_...'") reaches neither Temporal's history in clear (failure messages are encoded and encrypted
 * with the payloads) nor the worker's log lines (payment tokens are scrubbed from free text).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type MerchantSetup, type PaymentsFixture } from '../support/payments-fixture.js';
import { spawnEntryPoint, workerEnv, type EntryPointProcess } from '../support/processes.js';

let f: PaymentsFixture;
let m: MerchantSetup;
let worker: EntryPointProcess;
let echoing: Server;

beforeAll(async () => {
  echoing = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { source } = JSON.parse(body || '{}') as { source?: string };
      res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'card_invalid', message: `card ${source} is not valid` } }));
    });
  });
  await new Promise<void>((r) => echoing.listen(0, '127.0.0.1', r));
  f = await startPaymentsFixture({ startWorker: false });
  m = await setUpMerchant(f, (c) => [{ name: 'echoing', priority: 10, connectionIds: [c.acmeId] }]);
  // The merchant's AcmePay connection now talks to the echoing stand-in.
  await request(f.stack.app)
    .patch(`/v1/connections/${m.acmeId}`)
    .set(m.auth)
    .send({ settings: { baseUrl: `http://127.0.0.1:${(echoing.address() as AddressInfo).port}` } })
    .expect(200);
  worker = spawnEntryPoint('src/workers/main.ts', workerEnv(f.stack, { STRIPE_API_URL: f.stripe.url }));
  await worker.waitFor('worker running');
}, 120_000);
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await f?.close();
  await new Promise((r) => echoing?.close(r));
});

describe('a card token echoed by a gateway', () => {
  it('is not in the raw Temporal history nor in the worker log after the payment fails', async () => {
    const token = `tok_leak${randomBytes(8).toString('hex')}`;
    const startLine = worker.lines().length;
    const payment = await startPayment(f, m, { paymentMethod: { type: 'card', token } });
    expect((await waitForPayment(f, m, payment.id)).status).toBe('failed');

    // The history as Temporal stores it, read by a client without the codec.
    const plain = new Client({ connection: f.stack.temporal.connection, namespace: 'default' });
    const history = await plain.workflow.getHandle(payment.workflowId).fetchHistory();
    const failures = history.events!.filter((e) => e.activityTaskFailedEventAttributes).map((e) => e.activityTaskFailedEventAttributes!.failure!);
    expect(failures.map((x) => x.applicationFailureInfo?.type)).toContain('HardDecline');
    const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    expect(bytes).not.toContain(token);
    expect(failures[0]!.message).toBe('Encoded failure');

    // The operator still reads the gateway's message: the codec endpoint decodes the encoded attributes.
    const encoded = failures[0]!.encodedAttributes!;
    const payloads = [
      {
        metadata: Object.fromEntries(Object.entries(encoded.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        data: Buffer.from(encoded.data ?? []).toString('base64'),
      },
    ];
    const decoded = await request(f.stack.app).post('/codec/decode').set('Authorization', `Bearer ${f.stack.adminToken}`).send({ payloads }).expect(200);
    expect(Buffer.from(decoded.body.payloads[0].data, 'base64').toString()).toContain(`card ${token} is not valid`);

    // The worker logged the decline (so the text passed through its logger), without the token.
    await worker.waitFor('Activity failed');
    const lines = worker.lines().slice(startLine);
    expect(lines.some((l) => l.includes('card tok_[redacted] is not valid') && l.includes('HardDecline'))).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
  }, 120_000);
});

describe('log redaction of payment tokens', () => {
  it('scrubs tokens from messages, error texts and stacks, and card-token fields by name', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const logger = createLogger('info', {}, { destination });
    logger.warn("gateway said: No such PaymentMethod: 'pm_1N3xAbCdEf'", {
      err: new Error('card tok_visa4242abcd was declined'),
      detail: { reason: 'source src_9xYz0987 expired', decline: 'card_declined' },
      paymentMethod: { type: 'card', token: 'pm_card_visa' },
      payment_method: 'btok_1234abcd',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/pm_1N3xAbCdEf|tok_visa4242abcd|src_9xYz0987|pm_card_visa|btok_1234abcd/);
    const line = JSON.parse(lines[0]!) as Record<string, unknown> & { detail: Record<string, string> };
    expect(line.msg).toBe("gateway said: No such PaymentMethod: 'pm_[redacted]'");
    expect(line).toMatchObject({ paymentMethod: '[redacted]', payment_method: '[redacted]' });
    // Decline codes and other ids stay readable.
    expect(line.detail.decline).toBe('card_declined');
  });
});
