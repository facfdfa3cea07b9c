import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAcmepayEmulator } from '../../emulators/gateways/acmepay.js';
import { startCallbackRecorder } from '../../emulators/gateways/callback-recorder.js';
import { startPendingpayEmulator } from '../../emulators/gateways/pendingpay.js';

const stateFile = (name: string) => path.join(mkdtempSync(path.join(tmpdir(), `${name}-state-`)), `${name}.json`);

describe('AcmePay and PendingPay emulators: state file', () => {
  it('AcmePay: a payment taken before a restart can be refunded after it', async () => {
    const file = stateFile('acmepay');
    const auth = { authorization: 'Bearer acme_test_key', 'content-type': 'application/json' };
    const first = await startAcmepayEmulator({ stateFile: file });
    const created = await fetch(`${first.url}/v1/payments`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ amount: '19.99', currency: 'EUR', source: 'tok_success', merchant_reference: 'pay_1' }),
    });
    expect(created.status).toBe(201);
    const { payment } = (await created.json()) as { payment: { id: string } };
    await first.close();

    const second = await startAcmepayEmulator({ stateFile: file });
    try {
      const refund = await fetch(`${second.url}/v1/payments/${payment.id}/refunds`, { method: 'POST', headers: auth, body: JSON.stringify({ amount_minor: 500 }) });
      expect(refund.status).toBe(201);
      const kept = await fetch(`${second.url}/v1/payments/${payment.id}`, { headers: auth });
      expect(await kept.json()).toMatchObject({ payment: { id: payment.id, state: 'CAPTURED', refunded_amount: '5.00' } });
    } finally {
      await second.close();
    }
  });

  it('PendingPay: a transaction pending at a restart settles after it, with its callback', async () => {
    const file = stateFile('pendingpay');
    const recorder = await startCallbackRecorder();
    const token = async (url: string) => {
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'pp_client_demo', client_secret: 'pp_secret_demo' }),
      });
      return { authorization: `Bearer ${((await res.json()) as { access_token: string }).access_token}` };
    };
    // Settles only after the restart: the first instance's delay is longer than the test.
    const first = await startPendingpayEmulator({ stateFile: file, callbackUrl: recorder.url, callbackDelayMs: 600_000 });
    const created = await fetch(`${first.url}/txns`, {
      method: 'POST',
      headers: await token(first.url),
      body: new URLSearchParams({ amount: '1050', currency: 'eur', source: 'tok_success', merchant_ref: 'pay_2' }),
    });
    expect(created.status).toBe(202);
    const { txn } = (await created.json()) as { txn: { ref: string; status: string } };
    expect(txn.status).toBe('pending');
    await first.close();

    const second = await startPendingpayEmulator({ stateFile: file, callbackUrl: recorder.url, callbackDelayMs: 20 });
    try {
      const callback = JSON.parse((await recorder.next(5_000)).rawBody.toString()) as { type: string; data: { txn: { ref: string } } };
      expect(callback).toMatchObject({ type: 'txn.settled', data: { txn: { ref: txn.ref } } });
      const kept = await fetch(`${second.url}/txns/${txn.ref}`, { headers: await token(second.url) });
      expect(await kept.json()).toMatchObject({ txn: { ref: txn.ref, status: 'settled', captured_amount: 1050 } });
    } finally {
      await second.close();
      await recorder.close();
    }
  });
});
