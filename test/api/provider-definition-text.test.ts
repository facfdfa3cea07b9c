/**
 * PUT /v1/providers/:name takes the definition file as written (YAML) as well as JSON, and points
 * every problem at the line and column where the field is written. YAML is hostile input: alias
 * bombs, deep nesting and language tags are refused with a 400, never expanded, recursed or run.
 */
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { findProviderDefinition } from '../../src/stores/platform/provider-definition-store.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let tenant: { id: string; auth: { Authorization: string } };
const democrm = readFileSync('providers/democrm.yaml', 'utf8');

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  tenant = await stack.createTenant('YAML definitions');
});
afterAll(async () => stack?.close());

/** The democrm file under another provider name (built-in names cannot be taken). */
const renamed = (text: string, name: string) => text.replace(/^name: democrm$/m, `name: ${name}`);

/** 1-based line of the first line matching `pattern`, and the column where `at` starts on it. */
function positionOf(text: string, pattern: RegExp, at: string): { line: number; column: number } {
  const lines = text.split('\n');
  const index = lines.findIndex((l) => pattern.test(l));
  expect(index).toBeGreaterThanOrEqual(0);
  return { line: index + 1, column: lines[index]!.indexOf(at) + 1 };
}

function putYaml(name: string, text: string, type = 'application/yaml') {
  return request(stack.app).put(`/v1/providers/${name}`).set(tenant.auth).set('Content-Type', type).send(text);
}

describe('PUT /v1/providers/:name with YAML', () => {
  it('stores the same definition as the JSON of the same file, for each YAML media type', async () => {
    const yamlText = renamed(democrm, 'yamlcrm');
    const res = await putYaml('yamlcrm', yamlText).expect(200);
    expect(res.body).toMatchObject({ name: 'yamlcrm', displayName: 'Nimbus CRM (demo)', source: 'tenant' });
    const asJson = parseYaml(renamed(democrm, 'jsoncrm')) as Record<string, unknown>;
    await request(stack.app).put('/v1/providers/jsoncrm').set(tenant.auth).send(asJson).expect(200);

    const fromYaml = await findProviderDefinition(stack.database.db, tenant.id, 'yamlcrm');
    const fromJson = await findProviderDefinition(stack.database.db, tenant.id, 'jsoncrm');
    expect({ ...fromYaml!.definition, name: 'x' }).toEqual({ ...fromJson!.definition, name: 'x' });
    // Stored as the file says (no defaults added), so a replaced default is not frozen in.
    expect(fromYaml!.definition['customerSync']).toEqual((parseYaml(democrm) as Record<string, unknown>)['customerSync']);

    await putYaml('xyamlcrm', renamed(democrm, 'xyamlcrm'), 'application/x-yaml').expect(200);
    await putYaml('textyamlcrm', renamed(democrm, 'textyamlcrm'), 'text/yaml; charset=utf-8').expect(200);
    // Other text is still refused with 415, naming what is accepted.
    const plain = await putYaml('plaincrm', renamed(democrm, 'plaincrm'), 'text/plain').expect(415);
    expect(plain.body.error.message).toContain('application/yaml');
  });

  it('points a problem in a nested field at its line and column, with the field path', async () => {
    // customerSync.endpoints.retrieve.method: an invalid verb, five levels down.
    const text = renamed(democrm, 'badcrm').replace(/(\n {4}retrieve:\n {6}method:) GET/, '$1 FETCH');
    const res = await putYaml('badcrm', text).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    const retrieveLine = text.split('\n').indexOf('    retrieve:') + 1;
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ path: 'body.customerSync.endpoints.retrieve.method', line: retrieveLine + 1, column: 7 }),
    ]);

    // An unknown key points at the key itself.
    const typo = renamed(democrm, 'typocrm').replace('    localId: external_ref', '    localID: external_ref');
    const typoRes = await putYaml('typocrm', typo).expect(400);
    expect(typoRes.body.error.details).toEqual([
      expect.objectContaining({ path: 'body.customerSync.record', message: expect.stringContaining('localID'), ...positionOf(typo, /^ {4}localID:/, 'localID') }),
    ]);
  });

  it("points the route's own checks at their line too (the name must match the URL)", async () => {
    const res = await putYaml('othercrm', renamed(democrm, 'namedcrm')).expect(400);
    expect(res.body.error.details).toEqual([{ path: 'body.name', message: 'expected "othercrm"', ...positionOf(democrm, /^name: democrm$/, 'name') }]);
  });

  it('points a problem in a JSON body at its line too', async () => {
    const definition = parseYaml(renamed(democrm, 'jsonbad')) as { customerSync: { endpoints: { retrieve: { method: string } } } };
    definition.customerSync.endpoints.retrieve.method = 'FETCH';
    const text = JSON.stringify(definition, null, 2);
    const res = await request(stack.app).put('/v1/providers/jsonbad').set(tenant.auth).set('Content-Type', 'application/json').send(text).expect(400);
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ path: 'body.customerSync.endpoints.retrieve.method', ...positionOf(text, /"method": "FETCH"/, '"method"') }),
    ]);
  });

  it('refuses an alias bomb without expanding it', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
      const prev = String.fromCharCode('a'.charCodeAt(0) + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    const res = await putYaml('bombcrm', `${levels.join('\n')}\n`).expect(400);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ path: 'body', message: expect.stringContaining('aliases') })] });
    const stored = await findProviderDefinition(stack.database.db, tenant.id, 'bombcrm');
    expect(stored).toBeNull();
  });

  it('refuses deep nesting, language tags and keys that are not strings, naming the line', async () => {
    const deep = await putYaml('deepcrm', `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`).expect(400);
    expect(deep.body.error.details[0]).toMatchObject({ path: 'body', message: expect.stringContaining('nested deeper than 64'), line: 1 });
    const compact = await putYaml('deepcrm', `a:\n  ${'- '.repeat(50_000)}x\n`).expect(400);
    expect(compact.body.error.details[0]).toMatchObject({ message: expect.stringContaining('nested deeper than 64'), line: 2 });

    const tagged = renamed(democrm, 'tagcrm').replace("displayName: Nimbus CRM (demo)", 'displayName: !!js/function "function () { return process.exit(1) }"');
    const tag = await putYaml('tagcrm', tagged).expect(400);
    expect(tag.body.error.details[0]).toMatchObject({ message: expect.stringContaining('tag'), ...positionOf(tagged, /^displayName:/, '!!js') });

    const complexKey = await putYaml('keycrm', 'name: keycrm\n? [a, b]\n: x\n').expect(400);
    expect(complexKey.body.error.details[0]).toMatchObject({ message: expect.stringContaining('plain string'), line: 2 });
    const infinite = await putYaml('infcrm', renamed(democrm, 'infcrm').replace('timeoutMs: 10000', 'timeoutMs: .inf')).expect(400);
    expect(infinite.body.error.details[0].message).toContain('timeoutMs');
  });

  it('has the JSON body limits: 256 KiB and UTF-8', async () => {
    const large = `${renamed(democrm, 'largecrm')}\n# ${'x'.repeat(300 * 1024)}\n`;
    const res = await putYaml('largecrm', large).expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
    const latin1 = Buffer.concat([Buffer.from(renamed(democrm, 'latincrm').replace('Nimbus CRM (demo)', 'Nimbus ')), Buffer.from([0xe7, 0x0a])]);
    const bad = await request(stack.app).put('/v1/providers/latincrm').set(tenant.auth).set('Content-Type', 'application/yaml').send(latin1).expect(400);
    expect(bad.body.error.details[0].message).toContain('UTF-8');
  });

  it('refuses YAML that is not YAML, naming the line', async () => {
    const res = await putYaml('brokencrm', 'name: brokencrm\ndisplayName: "unterminated\n').expect(400);
    expect(res.body.error.details[0]).toMatchObject({ path: 'body', message: expect.stringContaining('not valid YAML'), line: expect.any(Number) });
  });
});
