import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  loadProviderDefinitions,
  parseProviderDefinition,
  ProviderDefinitionError,
  providerDefinitionJsonSchema,
  validateProviderDefinition,
} from '../../src/providers/declarative/index.js';

const root = join(import.meta.dirname, '../..');
const acmeText = await readFile(join(root, 'providers/acmepay.yaml'), 'utf8');
const pendingText = await readFile(join(root, 'providers/pendingpay.yaml'), 'utf8');

// Tests mutate parsed YAML freely to break one field at a time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RawDefinition = Record<string, any>;

/** A fresh, mutable copy of the acmepay definition as written in the file. */
function acmeRaw(): RawDefinition {
  return parseYaml(acmeText) as RawDefinition;
}

function problemsOf(raw: unknown): { path: string; message: string }[] {
  try {
    validateProviderDefinition(raw, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderDefinitionError);
    return (err as ProviderDefinitionError).problems;
  }
  return [];
}

describe('provider definitions', () => {
  it('accepts both example providers and applies defaults', () => {
    const acme = parseProviderDefinition(acmeText, 'yaml');
    const pending = parseProviderDefinition(pendingText, 'yaml');
    expect(acme.name).toBe('acmepay');
    expect(acme.credentials.find((c) => c.name === 'apiKey')).toMatchObject({ required: true, secret: true });
    expect(acme.actions?.health?.response.notFoundStatuses).toEqual([404]);
    expect(pending.auth).toMatchObject({ type: 'oauth2_client_credentials', clientAuthentication: 'body' });
    expect(pending.webhook?.signature.toleranceSeconds).toBe(300);
  });

  it('lets refund and capture templates use the currency', () => {
    const raw = acmeRaw();
    raw.actions.refund.body.template.currency = '{{currency | upper}}';
    raw.actions.capture.body.template.currency = '{{currency}}';
    raw.currencyExceptions = { MGA: { exponent: 0 }, ISK: { exponent: 2, multipleOf: 100 } };
    expect(problemsOf(raw)).toEqual([]);
  });

  it('parses the same definition from JSON', () => {
    const fromJson = parseProviderDefinition(JSON.stringify(acmeRaw()), 'json');
    expect(fromJson).toEqual(parseProviderDefinition(acmeText, 'yaml'));
  });

  it.each<[string, (d: RawDefinition) => void, string, RegExp]>([
    ['missing authorize', (d) => delete d.actions.authorize, 'actions.authorize', /expected object/i],
    ['unknown status value', (d) => (d.statusMap.CAPTURED = 'done'), 'statusMap.CAPTURED', /Invalid option/i],
    ['unknown top-level key', (d) => (d.actoins = {}), '', /Unrecognized key.*actoins/],
    [
      'unknown template variable',
      (d) => (d.actions.authorize.body.template.amount = '{{amout}}'),
      'actions.authorize.body.template.amount',
      /Unknown variable 'amout'/,
    ],
    [
      'undeclared credential',
      (d) => (d.auth.password = '{{credentials.secretKey}}'),
      'auth.password',
      /'credentials.secretKey' is not a declared credential/,
    ],
    [
      'unknown filter',
      (d) => (d.actions.authorize.body.template.currency = '{{currency | shout}}'),
      'actions.authorize.body.template.currency',
      /Unknown filter 'shout'/,
    ],
    [
      'relative path',
      (d) => (d.actions.capture.path = 'v1/payments'),
      'actions.capture.path',
      /starts with '\/'/,
    ],
    [
      'bad response path',
      (d) => (d.actions.authorize.response.reference = 'payment..id'),
      'actions.authorize.response.reference',
      /Not a valid path/,
    ],
    [
      'a variable the action does not have (refunds know no country)',
      (d) => (d.actions.refund.body.template.country = '{{country}}'),
      'actions.refund.body.template.country',
      /Unknown variable 'country' in action 'refund'/,
    ],
    [
      'an amount where the action has none (cancel)',
      (d) => (d.actions.cancel.path = '/v1/payments/{{reference}}/cancel?amount={{amount}}'),
      'actions.cancel.path',
      /Unknown variable 'amount' in action 'cancel'/,
    ],
    [
      'a currency exception for an unknown currency',
      (d) => (d.currencyExceptions = { XYZ: { exponent: 0 } }),
      'currencyExceptions.XYZ',
      /'XYZ' is not an ISO 4217 currency code/,
    ],
    ['bad provider name', (d) => (d.name = 'AcmePay'), 'name', /slug/],
    [
      'error rule matching nothing',
      (d) => (d.errors.rules = [{ classification: 'retryable' }]),
      'errors.rules[0]',
      /httpStatus, code, or both/,
    ],
    [
      'bad classification',
      (d) => (d.errors.rules[0].classification = 'fatal'),
      'errors.rules[0].classification',
      /Invalid option/,
    ],
    ['bad auth type', (d) => (d.auth = { type: 'digest' }), 'auth.type', /Invalid/i],
    [
      'no status lookup',
      (d) => {
        delete d.actions.status;
        delete d.actions.statusByMerchantReference;
      },
      'actions',
      /statusByMerchantReference/,
    ],
    [
      'lower-case currency capability',
      (d) => (d.capabilities.currencies = ['eur']),
      'capabilities.currencies[0]',
      /upper case/,
    ],
    [
      'unknown body encoding',
      (d) => (d.actions.authorize.body.encoding = 'xml'),
      'actions.authorize.body.encoding',
      /Invalid option/,
    ],
    ['unknown action', (d) => (d.actions.void = d.actions.cancel), 'actions', /Unrecognized key.*void/],
    [
      'webhook secret not a credential',
      (d) => {
        d.webhook = {
          signature: { header: 'X-Sig', secretCredential: 'nope' },
          event: {},
        };
      },
      'webhook.signature.secretCredential',
      /'nope' is not a declared credential/,
    ],
    [
      'signed timestamp without header',
      (d) => {
        d.webhook = {
          signature: {
            header: 'X-Sig',
            secretCredential: 'apiKey',
            signedPayload: '{{timestamp}}.{{body}}',
          },
          event: {},
        };
      },
      'webhook.signature.timestampHeader',
      /set timestampHeader/,
    ],
  ])('%s → problem at %j', (_label, mutate, path, message) => {
    const raw = acmeRaw();
    mutate(raw);
    const problems = problemsOf(raw);
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message) as string });
  });

  it('reports YAML syntax errors against the file', () => {
    expect(() => parseProviderDefinition('name: [unclosed', 'yaml', 'broken.yaml')).toThrow(
      /broken\.yaml[\s\S]*\(file\): not valid YAML/,
    );
  });

  it('loads a folder, naming the bad file and field, and refuses duplicate names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'providers-'));
    try {
      await writeFile(join(dir, 'acmepay.yaml'), acmeText);
      await writeFile(join(dir, 'pendingpay.yml'), pendingText);
      await writeFile(join(dir, 'README.md'), 'not a definition');
      const loaded = await loadProviderDefinitions(dir);
      expect(loaded.map((d) => d.name)).toEqual(['acmepay', 'pendingpay']);

      const broken = acmeRaw();
      broken.name = 'brokenpay';
      broken.actions.authorize.method = 'FETCH';
      await writeFile(join(dir, 'brokenpay.json'), JSON.stringify(broken));
      await writeFile(join(dir, 'copy.yaml'), acmeText);
      const err = await loadProviderDefinitions(dir).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err?.message).toMatch(
        /brokenpay\.json: invalid provider definition\n\s+- actions\.authorize\.method: /,
      );
      expect(err?.message).toMatch(
        /copy\.yaml[\s\S]*provider 'acmepay' is already defined in .*acmepay\.yaml/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps docs/provider-definition.schema.json in sync with the zod schema', async () => {
    const committed = JSON.parse(
      await readFile(join(root, 'docs/provider-definition.schema.json'), 'utf8'),
    ) as {
      required: string[];
      properties: Record<string, unknown>;
      $defs: Record<string, unknown>;
    };
    // Run `npx tsx scripts/generate-provider-schema.ts` when this fails (compared as data, not as text,
    // so formatting the file changes nothing).
    expect(committed).toEqual(providerDefinitionJsonSchema());
    expect(committed.required).toEqual(expect.arrayContaining(['name', 'baseUrl', 'auth']));
    // A payment gateway has actions and capabilities, a customer system customerSync (or both).
    expect(Object.keys(committed.properties)).toEqual(
      expect.arrayContaining(['actions', 'statusMap', 'capabilities', 'customerSync']),
    );
    expect(Object.keys(committed.$defs)).toContain('ProviderAction');
  });

  it('validate-provider prints OK or each problem with its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validate-'));
    try {
      const broken = acmeRaw();
      broken.statusMap.CAPTURED = 'done';
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify(broken));
      const run = promisify(execFile);
      const tsx = join(root, 'node_modules/.bin/tsx');
      const ok = await run(tsx, ['scripts/validate-provider.ts', 'providers/acmepay.yaml'], { cwd: root });
      expect(ok.stdout).toBe('OK providers/acmepay.yaml (acmepay 1.0.0)\n');
      const failed = await run(tsx, ['scripts/validate-provider.ts', bad], { cwd: root }).catch(
        (e: unknown) => e as { code: number; stdout: string },
      );
      expect(failed).toMatchObject({ code: 1 });
      // file:line:column path message, the position where the field is written (JSON.stringify: one line).
      expect((failed as { stdout: string }).stdout).toMatch(/bad\.json:1:\d+ statusMap\.CAPTURED Invalid option/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
