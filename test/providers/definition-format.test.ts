/**
 * Format versions of provider definitions: the first-format texts of the shipped files (kept in
 * test/fixtures/format-v1) upgraded to version 2 send the same HTTP requests (method, URL, headers,
 * body, recorded by a local server over real HTTP) and accept and refuse the same signed webhooks; the
 * committed providers/*.yaml are exactly those upgrades; version 2 refuses the old spellings.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { normalizeFields } from '../../src/domain/customers/fields.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { upgradeProviderDefinition } from '../../src/providers/declarative/format-version.js';
import { createDeclarativeProviderFactory, providerDefinitionSchema, type ProviderDefinition } from '../../src/providers/declarative/index.js';
import { signWebhook, verifyWebhookSignature, type WebhookSignatureRule } from '../../src/providers/declarative/webhook-signature.js';

const root = join(import.meta.dirname, '..', '..');
const v1Text = (name: string) => parseYaml(readFileSync(join(root, 'test/fixtures/format-v1', `${name}.yaml`), 'utf8')) as Record<string, unknown>;
const committed = (name: string) => parseYaml(readFileSync(join(root, 'providers', `${name}.yaml`), 'utf8')) as Record<string, unknown>;

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Answers every request with one body that satisfies every reader (token, gateway, CRM record, feeds), and records it. */
let server: Server;
let baseUrl: string;
let recorded: Recorded[] = [];
const ANSWER = {
  access_token: 'tok_1',
  token_type: 'bearer',
  expires_in: 3600,
  id: 'ref_1',
  status: 'succeeded',
  merchant: { name: 'Merchant' },
  contact: { id: 'rc_1', full_name: 'Ada', revision: '3' },
  changes: [],
  contacts: [],
};
beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ANSWER));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));
let egress: EgressFetch;
beforeEach(() => {
  recorded = [];
  egress = createEgressFetch({ allowPrivateNetworks: true });
});

const credentials = { accountId: 'acct_1', apiKey: 'key_1', clientId: 'cid', clientSecret: 'csec', webhookSecret: 'whsec_1', apiToken: 'crm_tok' };

/** The requests one definition sends for a fixed script of calls, and each call's outcome (a value or an error's name). */
async function requestsOf(definition: ProviderDefinition): Promise<{ requests: Recorded[]; outcomes: string[] }> {
  recorded = [];
  const factory = createDeclarativeProviderFactory(definition, { fetch: egress, timeoutMs: 2000, now: () => 1_800_000_000_000 });
  const ctx = { tenantId: 't1', connectionId: 'c1', credentials, settings: { baseUrl } };
  const calls: (() => Promise<unknown>)[] = [];
  if (definition.actions) {
    const gateway = factory.create(ctx).payments!;
    const charge = { paymentId: 'pay_1', attempt: 1, idempotencyKey: 'pay_1-1', amount: 1050, currency: 'EUR', country: 'DE', captureMode: 'automatic', paymentMethod: { type: 'card', token: 'tok_visa' } };
    calls.push(
      () => gateway.verifyCredentials(),
      () => gateway.authorize(charge as never),
      () => gateway.capture('ref_1', 1050, 'cap-1', 'EUR'),
      () => gateway.refund({ paymentId: 'pay_1', reference: 'ref_1', amount: 500, currency: 'EUR', idempotencyKey: 'ref-1' } as never),
      () => gateway.cancel('ref_1', 'can-1'),
      () => gateway.lookup({ paymentId: 'pay_1', attempt: 1, idempotencyKey: 'pay_1-1', reference: 'ref_1' } as never),
    );
  }
  if (definition.customerSync) {
    const crm = factory.customerSync!.connect(ctx);
    const ada = normalizeFields({ email: 'ada@example.com', name: 'Ada', phone: '+44 20 7946 0000', metadata: { tier: 'gold' } });
    calls.push(
      () => crm.create(ada, { localId: 'cus_1', idempotencyKey: 'k1' }),
      () => crm.update('rc_1', ada, { ...ada, name: 'Ada L' }, { localId: 'cus_1', idempotencyKey: 'k2' }),
      () => crm.retrieve('rc_1'),
      () => crm.delete('rc_1', 'k3'),
      () => crm.changesSince(null),
      () => crm.changesSince('c_41'),
      () => crm.list(null),
      () => crm.list('page_2'),
    );
  }
  const outcomes: string[] = [];
  for (const call of calls) outcomes.push(await call().then((v) => JSON.stringify(v) ?? 'undefined', (err: Error) => `${err.name}: ${err.message}`));
  await egress.close();
  egress = createEgressFetch({ allowPrivateNetworks: true });
  return { requests: recorded, outcomes };
}

describe.each(['acmepay', 'pendingpay', 'democrm'])('providers/%s.yaml in format versions 1 and 2', (name) => {
  const v1 = v1Text(name);
  const v2 = upgradeProviderDefinition(v1);

  it('the committed file is the upgrade of the first-format text, and the upgrade is idempotent', () => {
    expect(v1.formatVersion).toBeUndefined();
    expect(committed(name)).toEqual(v2);
    expect(upgradeProviderDefinition(v2)).toEqual(v2);
    expect(JSON.stringify(v2)).not.toContain('"scheme"');
  });

  it('both parse to the same definition, which sends the same requests and gets the same outcomes', async () => {
    const old = providerDefinitionSchema.parse(v1);
    const upgraded = providerDefinitionSchema.parse(v2);
    expect(upgraded.formatVersion).toBe(2);
    expect({ ...upgraded, formatVersion: undefined }).toEqual({ ...old, formatVersion: undefined });
    const before = await requestsOf(old);
    const after = await requestsOf(upgraded);
    expect(before.requests.length).toBeGreaterThanOrEqual(5);
    expect(after.requests).toEqual(before.requests);
    expect(after.outcomes).toEqual(before.outcomes);
  });
});

describe.each([
  ['pendingpay', (d: ProviderDefinition) => d.webhook!.signature],
  ['democrm', (d: ProviderDefinition) => d.customerSync!.webhook!.signature],
] as const)('%s webhooks in format versions 1 and 2', (name, ruleOf) => {
  const rules = [providerDefinitionSchema.parse(v1Text(name)), providerDefinitionSchema.parse(committed(name))].map(ruleOf);
  const now = 1_800_000_000_000;
  const body = Buffer.from('{"id":"evt_1","type":"payment.updated"}');
  const verdict = (rule: WebhookSignatureRule, headers: Record<string, string>, raw: Buffer = body) => {
    try {
      verifyWebhookSignature(rule, 'whsec_1', raw, headers, now);
      return 'accepted';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('accept and refuse the same deliveries', () => {
    const sender = rules[0]!;
    const deliveries: [Record<string, string>, Buffer][] = [
      [signWebhook(sender, 'whsec_1', body, { timestamp: String(now / 1000) }), body],
      [signWebhook(sender, 'whsec_1', body, { timestamp: String(now / 1000) }), Buffer.from('{"id":"evt_1","type":"payment.captured"}')],
      [signWebhook(sender, 'another', body, { timestamp: String(now / 1000) }), body],
      [signWebhook(sender, 'whsec_1', body, { timestamp: String(now / 1000 - 3600) }), body],
      [{}, body],
    ];
    const v1Verdicts = deliveries.map(([headers, raw]) => verdict(rules[0]!, headers, raw));
    expect(v1Verdicts[0]).toBe('accepted');
    expect(v1Verdicts.slice(1).every((v) => v !== 'accepted')).toBe(true);
    expect(deliveries.map(([headers, raw]) => verdict(rules[1]!, headers, raw))).toEqual(v1Verdicts);
  });
});

describe('formatVersion 2 refuses the old spellings', () => {
  it('names the field and its replacement', () => {
    const v2WithScheme = { ...committed('democrm') };
    const sync = v2WithScheme.customerSync as { webhook: { signature: Record<string, unknown> } };
    v2WithScheme.customerSync = { ...sync, webhook: { signature: { ...sync.webhook.signature, scheme: 'hmac_sha256' } } };
    const result = providerDefinitionSchema.safeParse(v2WithScheme);
    expect(result.success).toBe(false);
    expect(result.error!.issues).toEqual([
      expect.objectContaining({
        path: ['customerSync', 'webhook', 'signature', 'scheme'],
        message: expect.stringMatching(/formatVersion 1 field; in formatVersion 2 use 'algorithm: sha256'/),
      }),
    ]);
    // The same text without formatVersion is the first format, still read.
    expect(providerDefinitionSchema.safeParse({ ...v2WithScheme, formatVersion: undefined }).success).toBe(true);
  });

  it('refuses an unknown format version', () => {
    const result = providerDefinitionSchema.safeParse({ ...committed('acmepay'), formatVersion: 3 });
    expect(result.error?.issues.map((i) => i.path)).toEqual([['formatVersion']]);
  });
});
