import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { describe, expect, it, vi } from 'vitest';
import { startStripeEmulator } from '../../emulators/stripe/index.js';

const KEY = 'sk_test_state_file_suite';
const sdk = (port: number) => new Stripe(KEY, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });

describe('Stripe emulator: state file', () => {
  it('keeps customers, payments and idempotent responses across a restart from the same file', async () => {
    const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'stripe-state-')), 'stripe.json');
    const first = await startStripeEmulator({ apiKeys: [KEY], stateFile });
    const before = sdk(first.port);
    const customer = await before.customers.create({ email: 'ada@example.com', name: 'Ada' }, { idempotencyKey: 'create-ada' });
    await before.customers.update(customer.id, { name: 'Ada Lovelace', metadata: { switchyard_id: 'cust_1' } });
    const gone = await before.customers.create({ email: 'gone@example.com' });
    await before.customers.del(gone.id);
    const intent = await before.paymentIntents.create({ amount: 1999, currency: 'eur', payment_method: 'pm_card_visa', confirm: true, metadata: { payment_id: 'pay_1' } });
    expect(intent.status).toBe('succeeded');
    // Written shortly after the change, not only at a clean shutdown (a killed `npm run dev` keeps it too).
    await vi.waitFor(() => expect(existsSync(stateFile) && readFileSync(stateFile, 'utf8')).toContain('Ada Lovelace'), { timeout: 2_000 });
    await first.close();

    const second = await startStripeEmulator({ apiKeys: [KEY], stateFile });
    try {
      const after = sdk(second.port);
      const kept = await after.customers.retrieve(customer.id);
      expect(kept).toMatchObject({ id: customer.id, email: 'ada@example.com', name: 'Ada Lovelace', metadata: { switchyard_id: 'cust_1' } });
      expect(await after.customers.retrieve(gone.id)).toMatchObject({ id: gone.id, deleted: true });
      expect((await after.customers.list()).data.map((c) => c.id)).toEqual([customer.id]);
      expect(await after.paymentIntents.retrieve(intent.id)).toMatchObject({ status: 'succeeded', amount: 1999 });
      expect(second.chargeCount('pay_1')).toBe(1);
      const replayed = await after.customers.create({ email: 'ada@example.com', name: 'Ada' }, { idempotencyKey: 'create-ada' });
      expect(replayed.id).toBe(customer.id);
      expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
      const events = (await after.events.list({ type: 'customer.updated' })).data;
      expect(events.map((e) => (e.data.object as Stripe.Customer).id)).toEqual([customer.id]);
    } finally {
      await second.close();
    }
  });

  it('keeps nothing without a state file', async () => {
    const first = await startStripeEmulator({ apiKeys: [KEY] });
    const customer = await sdk(first.port).customers.create({ email: 'ada@example.com' });
    await first.close();
    const second = await startStripeEmulator({ apiKeys: [KEY] });
    try {
      await expect(sdk(second.port).customers.retrieve(customer.id)).rejects.toMatchObject({ code: 'resource_missing' });
    } finally {
      await second.close();
    }
  });
});
