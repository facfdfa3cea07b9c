import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcmepayEmulator, type AcmepayEmulator } from '../../emulators/gateways/acmepay.js';

/** The gateway emulators' hanging mode (the isolation bench's neighbour whose gateway never answers). */
describe('gateway emulator: hanging', () => {
  let acme: AcmepayEmulator;
  const headers = { authorization: 'Bearer acme_test_key', 'content-type': 'application/json' };
  const charge = (ref: string) =>
    fetch(`${acme.url}/v1/payments`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': ref },
      body: JSON.stringify({ amount: '10.50', currency: 'EUR', source: 'tok_success', merchant_reference: ref }),
    });

  beforeAll(async () => {
    acme = await startAcmepayEmulator();
  });
  afterAll(() => acme.close());

  it('holds every charge unanswered while /health answers, and closes the held connections when turned off', async () => {
    acme.setHanging(true, { path: '/v1/payments' });
    const held = charge('ref-held');
    // The request has arrived (it is in the request log) ...
    const deadline = Date.now() + 3000;
    while (!acme.requestLog().some((r) => r.path === '/v1/payments')) {
      if (Date.now() > deadline) throw new Error('the charge never reached the emulator');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await fetch(`${acme.url}/health`)).status).toBe(200);
    // ... and, released, its connection is closed without an answer: an answered charge would resolve.
    acme.setHanging(false);
    await expect(held).rejects.toThrow();
    expect(acme.chargeCount('ref-held')).toBe(0);

    const answered = await charge('ref-after');
    expect(answered.status).toBe(201);
    expect(acme.chargeCount('ref-after')).toBe(1);
  });
});
