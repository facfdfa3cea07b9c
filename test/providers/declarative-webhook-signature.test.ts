/**
 * Webhook signatures as parts (src/providers/declarative/webhook-signature.ts): every part and both
 * presets against signatures computed here independently (node:crypto, the stripe SDK, the
 * standardwebhooks library, the Stripe emulator's signing), the first format against the same parts,
 * rotation, tolerance, and the validation of hostile or incomplete rules.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { signWebhookPayload } from '../../emulators/stripe/webhook-signing.js';
import {
  signWebhook,
  verifyWebhookSignature,
  webhookSignatureRule,
  webhookSignatureSchema,
  type WebhookSignatureInput,
  type WebhookSignatureRule,
} from '../../src/providers/declarative/webhook-signature.js';
import {
  createDeclarativeProviderFactory,
  parseProviderDefinition,
  ProviderDefinitionError,
  validateProviderDefinition,
} from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { DEFAULT_ERP_WEBHOOK_SIGNATURE } from '../../src/providers/erp/webhook-envelope.js';
import type { HeaderBag } from '../../src/providers/types.js';

const root = join(import.meta.dirname, '../..');
const democrmText = await readFile(join(root, 'providers/democrm.yaml'), 'utf8');
const pendingpayText = await readFile(join(root, 'providers/pendingpay.yaml'), 'utf8');
const doc = await readFile(join(root, 'docs/declarative-providers.md'), 'utf8');
const NOW_S = 1_733_580_000;
const NOW_MS = NOW_S * 1000;
const body = Buffer.from('{"id":"evt_1","type":"contact.updated","name":"Zoë"}', 'utf8');
const SECRET = 'whsec_test_secret';

const hmac = (algorithm: string, key: string | Buffer, data: string | Buffer, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, key).update(data).digest(encoding);

/** Accepted (true) or the refusal's message. */
function outcome(rule: WebhookSignatureRule, headers: HeaderBag, raw = body, secret = SECRET, now = NOW_MS): true | string {
  try {
    verifyWebhookSignature(rule, secret, raw, headers, now);
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

function problems(input: unknown): { path: string; message: string }[] {
  const r = webhookSignatureSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('the first format, read as parts', () => {
  const pendingpay = (parseYaml(pendingpayText) as { webhook: { signature: WebhookSignatureInput } }).webhook.signature;
  const democrm = (parseYaml(democrmText) as { customerSync: { webhook: { signature: WebhookSignatureInput } } }).customerSync.webhook.signature;
  const cases: [string, WebhookSignatureInput, WebhookSignatureInput][] = [
    [
      'pendingpay (hex, timestamp header)',
      pendingpay,
      { header: 'X-Pending-Signature', secretCredential: 'webhookSecret', algorithm: 'sha256', encoding: 'hex', timestampHeader: 'X-Pending-Timestamp', signedPayload: '{{timestamp}}.{{body}}' },
    ],
    [
      'democrm (base64, prefix, timestamp header)',
      democrm,
      { header: 'X-Crm-Signature', prefix: 'sha256=', encoding: 'base64', secretCredential: 'webhookSecret', timestampHeader: 'X-Crm-Timestamp', signedPayload: '{{timestamp}}.{{body}}' },
    ],
    ['body only', { scheme: 'hmac_sha256', header: 'X-Sig', secretCredential: 's' }, { header: 'X-Sig', secretCredential: 's' }],
  ];

  it.each(cases)('%s resolves to the same rule as its parts', (_label, old, parts) => {
    expect(webhookSignatureRule(old)).toEqual(webhookSignatureRule(parts));
  });

  it('reads a resolved rule back as itself (stored ERP connectors are parsed again when used)', () => {
    for (const input of [...cases.flatMap(([, a, b]) => [a, b]), { preset: 'stripe', secretCredential: 's' }, { preset: 'standard_webhooks', secretCredential: 's' }] as WebhookSignatureInput[]) {
      const rule = webhookSignatureRule(input);
      expect(webhookSignatureRule(rule)).toEqual(rule);
    }
  });

  it.each(cases)('%s accepts and refuses the same requests as its parts', (_label, old, parts) => {
    const a = webhookSignatureRule(old);
    const b = webhookSignatureRule(parts);
    const ts = String(NOW_S);
    const signed = a.timestampHeader ? `${ts}.${body.toString()}` : body.toString();
    const good = (a.prefix ?? '') + hmac('sha256', SECRET, signed, a.encoding);
    const requests: HeaderBag[] = [
      { [a.header]: good, ...(a.timestampHeader ? { [a.timestampHeader]: ts } : {}) },
      { [a.header]: `${(a.prefix ?? '') + hmac('sha256', 'other', signed, a.encoding)}, ${good}`, ...(a.timestampHeader ? { [a.timestampHeader]: ts } : {}) },
      { [a.header]: good, ...(a.timestampHeader ? { [a.timestampHeader]: String(NOW_S - 301) } : {}) },
      { [a.header]: (a.prefix ?? '') + hmac('sha256', 'other', signed, a.encoding), ...(a.timestampHeader ? { [a.timestampHeader]: ts } : {}) },
      { ...(a.timestampHeader ? { [a.timestampHeader]: ts } : {}) },
    ];
    const results = requests.map((h) => outcome(a, h));
    expect(results.slice(0, 2)).toEqual([true, true]);
    expect(results.slice(3)).toEqual([expect.stringMatching(/does not match/), expect.stringMatching(/Missing/)]);
    expect(requests.map((h) => outcome(b, h))).toEqual(results);
  });
});

describe('stripe preset', () => {
  const rule = webhookSignatureRule({ preset: 'stripe', secretCredential: 'webhookSecret' });
  const payload = body.toString();

  it("accepts the stripe SDK's and the Stripe emulator's signatures", () => {
    const sdk = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: NOW_S });
    expect(outcome(rule, { 'stripe-signature': sdk })).toBe(true);
    expect(outcome(rule, { 'Stripe-Signature': signWebhookPayload(payload, SECRET, NOW_S) })).toBe(true);
  });

  it('writes a header the stripe SDK verifies', () => {
    const headers = signWebhook(rule, SECRET, body, { timestamp: String(Math.floor(Date.now() / 1000)) });
    const event = Stripe.webhooks.constructEvent(payload, headers['Stripe-Signature']!, SECRET) as unknown as { id: string };
    expect(event.id).toBe('evt_1');
  });

  it('accepts a rotation header with the old and the new secret (several v1 pairs)', () => {
    const header = `t=${NOW_S},v1=${hmac('sha256', 'whsec_old', `${NOW_S}.${payload}`, 'hex')},v1=${hmac('sha256', SECRET, `${NOW_S}.${payload}`, 'hex')}`;
    expect(outcome(rule, { 'Stripe-Signature': header })).toBe(true);
    expect(outcome(rule, { 'Stripe-Signature': header }, body, 'whsec_old')).toBe(true);
    expect(outcome(rule, { 'Stripe-Signature': header }, body, 'whsec_third')).toMatch(/does not match/);
  });

  it('refuses a stale timestamp, a tampered body, a v0 signature and a header without t', () => {
    const sdk = (timestamp: number) => Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp });
    expect(outcome(rule, { 'Stripe-Signature': sdk(NOW_S - 301) })).toMatch(/outside the 300s tolerance/);
    expect(outcome(rule, { 'Stripe-Signature': sdk(NOW_S + 299) })).toBe(true);
    expect(outcome(rule, { 'Stripe-Signature': sdk(NOW_S) }, Buffer.from(payload.replace('Zoë', 'Zoe')))).toMatch(/does not match/);
    expect(outcome(rule, { 'Stripe-Signature': `t=${NOW_S},v0=${hmac('sha256', SECRET, `${NOW_S}.${payload}`, 'hex')}` })).toMatch(/Missing 'v1' signature in Stripe-Signature/);
    expect(outcome(rule, { 'Stripe-Signature': `v1=${hmac('sha256', SECRET, `${NOW_S}.${payload}`, 'hex')}` })).toMatch(/Missing or malformed 't' in Stripe-Signature/);
  });

  it('lets explicit fields override the preset', () => {
    const custom = webhookSignatureRule({ preset: 'stripe', secretCredential: 's', header: 'X-Sig', encoding: 'base64', toleranceSeconds: 60 });
    expect(custom).toMatchObject({ header: 'X-Sig', encoding: 'base64', toleranceSeconds: 60, timestampKey: 't', signatureKey: 'v1' });
  });
});

describe('standard_webhooks preset', () => {
  const rule = webhookSignatureRule({ preset: 'standard_webhooks', secretCredential: 'webhookSecret' });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const headersOf = (id: string, signature: string, ts = NOW_S) => ({ 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature });

  it("accepts the standardwebhooks library's signatures", () => {
    const signature = new Webhook(secret).sign('msg_1', new Date(NOW_MS), body.toString());
    expect(outcome(rule, headersOf('msg_1', signature), body, secret)).toBe(true);
    expect(outcome(rule, headersOf('msg_2', signature), body, secret)).toMatch(/does not match/);
  });

  it('writes headers the standardwebhooks library verifies', () => {
    const headers = signWebhook(rule, secret, body, { id: 'msg_9', timestamp: String(Math.floor(Date.now() / 1000)) });
    expect(new Webhook(secret).verify(body.toString(), headers)).toMatchObject({ id: 'evt_1' });
  });

  it('accepts any of several space-separated signatures (rotation) and refuses when none matches', () => {
    const oldSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const both = `${new Webhook(oldSecret).sign('msg_1', new Date(NOW_MS), body.toString())} ${new Webhook(secret).sign('msg_1', new Date(NOW_MS), body.toString())}`;
    expect(outcome(rule, headersOf('msg_1', both), body, secret)).toBe(true);
    expect(outcome(rule, headersOf('msg_1', both), body, oldSecret)).toBe(true);
    expect(outcome(rule, headersOf('msg_1', both), body, `whsec_${randomBytes(24).toString('base64')}`)).toMatch(/does not match/);
  });

  it('refuses a missing webhook-id, a stale timestamp and a secret that is not base64', () => {
    const signature = new Webhook(secret).sign('msg_1', new Date(NOW_MS), body.toString());
    expect(outcome(rule, { 'webhook-timestamp': String(NOW_S), 'webhook-signature': signature }, body, secret)).toMatch(/Missing webhook-id/);
    expect(outcome(rule, headersOf('msg_1', signature, NOW_S - 400), body, secret)).toMatch(/tolerance/);
    expect(outcome(rule, headersOf('msg_1', signature), body, 'whsec_not*base64')).toMatch(/not base64/);
  });
});

describe('parts', () => {
  const payload = `${NOW_S}.${body.toString()}`;

  it.each(['sha1', 'sha256', 'sha512'] as const)('%s in hex and base64', (algorithm) => {
    for (const encoding of ['hex', 'base64'] as const) {
      const rule = webhookSignatureRule({ header: 'X-Sig', timestampHeader: 'X-Ts', signedPayload: '{{timestamp}}.{{body}}', algorithm, encoding, secretCredential: 's' });
      expect(outcome(rule, { 'X-Sig': hmac(algorithm, SECRET, payload, encoding), 'X-Ts': String(NOW_S) })).toBe(true);
      const other = algorithm === 'sha256' ? 'sha1' : 'sha256';
      expect(outcome(rule, { 'X-Sig': hmac(other, SECRET, payload, encoding), 'X-Ts': String(NOW_S) })).toMatch(/does not match/);
    }
  });

  it("reads the issue's CRM: X-Sig: t=<seconds>,v1=<base64 HMAC of t.body>", () => {
    const rule = webhookSignatureRule({
      header: 'X-Sig',
      pairs: { separator: ',', assign: '=' },
      signatureKey: 'v1',
      timestampKey: 't',
      signedPayload: '{{timestamp}}.{{body}}',
      encoding: 'base64',
      secretCredential: 'webhookSecret',
    });
    expect(outcome(rule, { 'x-sig': `t=${NOW_S},v1=${hmac('sha256', SECRET, payload, 'base64')}` })).toBe(true);
    expect(outcome(rule, { 'x-sig': `t=${NOW_S + 1},v1=${hmac('sha256', SECRET, payload, 'base64')}` })).toMatch(/does not match/);
    expect(signWebhook(rule, SECRET, body, { timestamp: String(NOW_S) })).toEqual({ 'X-Sig': `t=${NOW_S},v1=${hmac('sha256', SECRET, payload, 'base64')}` });
  });

  it('reads timestamps in milliseconds, seconds and ISO 8601 as the rule says', () => {
    const ruleOf = (timestampFormat: WebhookSignatureInput['timestampFormat']) =>
      webhookSignatureRule({ header: 'X-Sig', timestampHeader: 'X-Ts', signedPayload: '{{timestamp}}:{{body}}', timestampFormat, secretCredential: 's' });
    const signed = (ts: string) => ({ 'X-Sig': hmac('sha256', SECRET, `${ts}:${body.toString()}`, 'hex'), 'X-Ts': ts });
    const ms = String(NOW_MS - 1000);
    const iso = new Date(NOW_MS - 1000).toISOString();
    expect(outcome(ruleOf('milliseconds'), signed(ms))).toBe(true);
    expect(outcome(ruleOf('unix'), signed(ms))).toBe(true);
    expect(outcome(ruleOf('seconds'), signed(ms))).toMatch(/tolerance/);
    expect(outcome(ruleOf('iso8601'), signed(iso))).toBe(true);
    expect(outcome(ruleOf('unix_or_iso8601'), signed(iso))).toBe(true);
    expect(outcome(ruleOf('seconds'), signed(iso))).toMatch(/Missing or malformed X-Ts header/);
  });

  it('signs the delivery id when the template says so', () => {
    const rule = webhookSignatureRule({ header: 'X-Sig', idHeader: 'X-Id', signedPayload: '{{id}}|{{body}}', secretCredential: 's' });
    expect(outcome(rule, { 'X-Sig': hmac('sha256', SECRET, `d_1|${body.toString()}`, 'hex'), 'X-Id': 'd_1' })).toBe(true);
    expect(outcome(rule, { 'X-Sig': hmac('sha256', SECRET, `d_1|${body.toString()}`, 'hex'), 'X-Id': 'd_2' })).toMatch(/does not match/);
    expect(outcome(rule, { 'X-Sig': hmac('sha256', SECRET, `d_1|${body.toString()}`, 'hex') })).toMatch(/Missing X-Id header/);
  });
});

describe('validation', () => {
  it.each([
    ['no header and no preset', { secretCredential: 's' }, 'header', /set the header/],
    ['no secretCredential', { header: 'X-Sig' }, 'secretCredential', /expected string/],
    ['unknown algorithm', { header: 'X', secretCredential: 's', algorithm: 'md5' }, 'algorithm', /sha1.*sha256.*sha512/],
    ['scheme contradicting algorithm', { scheme: 'hmac_sha256', algorithm: 'sha512', header: 'X', secretCredential: 's' }, 'algorithm', /contradicts/],
    ['signed payload without body', { header: 'X', secretCredential: 's', signedPayload: '{{timestamp}}' , timestampHeader: 'T' }, 'signedPayload', /must contain '\{\{body\}\}'/],
    ['unknown variable', { header: 'X', secretCredential: 's', signedPayload: '{{credentials.key}}.{{body}}' }, 'signedPayload', /may only use/],
    ['filter on body', { header: 'X', secretCredential: 's', signedPayload: '{{body | upper}}' }, 'signedPayload', /takes no filters/],
    ['broken template', { header: 'X', secretCredential: 's', signedPayload: '{{body' }, 'signedPayload', /./],
    ['timestamp without a source', { header: 'X', secretCredential: 's', signedPayload: '{{timestamp}}.{{body}}' }, 'timestampHeader', /set timestampHeader/],
    ['timestamp in pairs without a key', { header: 'X', secretCredential: 's', pairs: {}, signatureKey: 'v1', signedPayload: '{{timestamp}}.{{body}}' }, 'timestampKey', /set timestampHeader \(or timestampKey/],
    ['id without idHeader', { header: 'X', secretCredential: 's', signedPayload: '{{id}}.{{body}}' }, 'idHeader', /set idHeader/],
    ['pairs without signatureKey', { header: 'X', secretCredential: 's', pairs: {} }, 'signatureKey', /name the key/],
    ['signatureKey without pairs', { header: 'X', secretCredential: 's', signatureKey: 'v1' }, 'signatureKey', /set pairs/],
    ['two timestamp sources', { preset: 'stripe', secretCredential: 's', timestampHeader: 'T' }, 'timestampHeader', /not both/],
    ['same separator and assign', { header: 'X', secretCredential: 's', pairs: { separator: '=', assign: '=' }, signatureKey: 'v1' }, 'pairs.assign', /must differ/],
    ['unknown field', { header: 'X', secretCredential: 's', hash: 'sha1' }, '', /Unrecognized key.*hash/],
  ])('%s → problem at %j', (_label, input, path, message) => {
    expect(problems(input)).toContainEqual({ path, message: expect.stringMatching(message) as string });
  });

  it('names the definition path and an undeclared secret credential', () => {
    const crm = parseYaml(democrmText) as { customerSync: { webhook: { signature: Record<string, unknown> } } };
    crm.customerSync.webhook.signature = { preset: 'stripe', secretCredential: 'nope' };
    expect(definitionProblems(crm)).toContainEqual({ path: 'customerSync.webhook.signature.secretCredential', message: "'nope' is not a declared credential" });
    crm.customerSync.webhook.signature = { preset: 'standard_webhooks', secretCredential: 'webhookSecret', signedPayload: '{{body}}.{{nonce}}' };
    expect(definitionProblems(crm)).toContainEqual({ path: 'customerSync.webhook.signature.signedPayload', message: expect.stringMatching(/may only use/) as string });
    crm.customerSync.webhook.signature = { preset: 'standard_webhooks', secretCredential: 'webhookSecret' };
    expect(definitionProblems(crm)).toEqual([]);
  });
});

function definitionProblems(raw: unknown): { path: string; message: string }[] {
  try {
    validateProviderDefinition(raw, 'test.yaml');
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderDefinitionError);
    return (err as ProviderDefinitionError).problems;
  }
}

describe('the cookbook in docs/declarative-providers.md', () => {
  /** The yaml block under each "#### Cookbook:" heading, as a CRM's webhook signature rule. */
  const recipes = [...doc.matchAll(/#### Cookbook: (.+)\n[\s\S]*?```yaml\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!] as const);

  /** democrm with the recipe as its webhook rule, connected, so parseWebhook runs the real path. */
  function crmWith(recipe: string) {
    const raw = parseYaml(democrmText) as { customerSync: { webhook: unknown } };
    raw.customerSync.webhook = parseYaml(recipe);
    const factory = createDeclarativeProviderFactory(parseProviderDefinition(JSON.stringify(raw), 'json'), { fetch: createEgressFetch({ allowPrivateNetworks: true }) });
    return factory.create({ tenantId: 't', connectionId: 'c', credentials: { apiToken: 'crm_x', webhookSecret: SECRET }, settings: { baseUrl: 'http://127.0.0.1:9' } });
  }

  it('has both recipes', () => {
    expect(recipes.map(([title]) => title)).toEqual([expect.stringContaining('t=…,v1=…'), expect.stringContaining('delivery id')]);
  });

  it('t=,v1= in one header: accepted with either of two signatures, refused when stale or altered', () => {
    const gateway = crmWith(recipes[0]![1]);
    const raw = Buffer.from(JSON.stringify({ event_id: 'evt_7', event_type: 'contact.updated', contact: { id: 'ctc_1' } }));
    const now = Math.floor(Date.now() / 1000);
    const sig = (secret: string, t = now) => createHmac('sha256', secret).update(`${t}.`).update(raw).digest('base64');
    expect(gateway.parseWebhook(raw, { 'x-sig': `t=${now},v1=${sig('old-secret')},v1=${sig(SECRET)}` })).toEqual({ eventId: 'evt_7', type: 'contact.updated' });
    expect(() => gateway.parseWebhook(raw, { 'x-sig': `t=${now - 301},v1=${sig(SECRET, now - 301)}` })).toThrow(/tolerance/);
    expect(() => gateway.parseWebhook(Buffer.concat([raw, Buffer.from(' ')]), { 'x-sig': `t=${now},v1=${sig(SECRET)}` })).toThrow(/does not match/);
  });

  it('a signed delivery id with a millisecond timestamp header and SHA-512', () => {
    const gateway = crmWith(recipes[1]![1]);
    const raw = Buffer.from(JSON.stringify({ event_id: 'evt_8', event_type: 'contact.created', contact: { id: 'ctc_2' } }));
    const ts = String(Date.now());
    const headers = { 'X-Id': 'd_1', 'X-Ts': ts, 'X-Sig': `sha512=${createHmac('sha512', SECRET).update(`d_1|${ts}|`).update(raw).digest('hex')}` };
    expect(gateway.parseWebhook(raw, headers)).toEqual({ eventId: 'evt_8', type: 'contact.created' });
    expect(() => gateway.parseWebhook(raw, { ...headers, 'X-Id': 'd_2' })).toThrow(/does not match/);
  });
});

describe('presets on the payment callback path', () => {
  it("a gateway whose callbacks are signed per Standard Webhooks reads them with preset: standard_webhooks", () => {
    const raw = parseYaml(pendingpayText) as { webhook: { signature: unknown } };
    raw.webhook.signature = { preset: 'standard_webhooks', secretCredential: 'webhookSecret' };
    const factory = createDeclarativeProviderFactory(parseProviderDefinition(JSON.stringify(raw), 'json'), { fetch: createEgressFetch({ allowPrivateNetworks: true }) });
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const gateway = factory.create({ tenantId: 't', connectionId: 'c', credentials: { clientId: 'c', clientSecret: 's', webhookSecret: secret }, settings: {} });
    const callback = JSON.stringify({ id: 'cb_1', type: 'txn.updated', data: { txn: { ref: 'pp_1', status: 'settled', metadata: { payment_id: 'pay_1' } } } });
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', new Date(), callback) };
    expect(gateway.parseWebhook(Buffer.from(callback), headers)).toMatchObject({ eventId: 'cb_1', reference: 'pp_1', paymentId: 'pay_1', status: 'succeeded' });
    expect(() => gateway.parseWebhook(Buffer.from(callback), { ...headers, 'webhook-id': 'msg_2' })).toThrow(/does not match/);
  });
});

describe("the ERP platform scheme, as parts", () => {
  const event = Buffer.from('{"id":"evt-1","entity":"products","data":{"StokKodu":"A-1"}}');
  const sign = (ts: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(`${ts}.`).update(event).digest('hex')}`;

  it('accepts X-Webhook-Signature over "<X-Webhook-Timestamp>.<body>" with Unix seconds or ISO 8601, and a rotation pair', () => {
    const iso = new Date(NOW_MS - 60_000).toISOString();
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': String(NOW_S), 'x-webhook-signature': sign(String(NOW_S)) }, event)).toBe(true);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': iso, 'x-webhook-signature': sign(iso) }, event)).toBe(true);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': iso, 'x-webhook-signature': `${sign(iso, 'old')},${sign(iso)}` }, event)).toBe(true);
  });

  it('refuses a stale or unreadable timestamp, a missing prefix and a missing signature', () => {
    const stale = String(NOW_S - 301);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': stale, 'x-webhook-signature': sign(stale) }, event)).toMatch(/outside the 300s tolerance/);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': 'yesterday', 'x-webhook-signature': sign('yesterday') }, event)).toMatch(/Missing or malformed X-Webhook-Timestamp header/);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': String(NOW_S), 'x-webhook-signature': sign(String(NOW_S)).slice('sha256='.length) }, event)).toMatch(/does not match/);
    expect(outcome(DEFAULT_ERP_WEBHOOK_SIGNATURE, { 'x-webhook-timestamp': String(NOW_S) }, event)).toMatch(/Missing X-Webhook-Signature header/);
  });
});
