/** Reading a definition's text with positions, and masking what a trial shows (no I/O). */
import { describe, expect, it } from 'vitest';
import { DefinitionSourceError, readDefinitionSource } from '../../src/providers/declarative/definition-source.js';
import { maskExchanges, type RecordedExchange } from '../../src/providers/declarative/exchange-recorder.js';

describe('readDefinitionSource', () => {
  it('locates fields of one-line JSON with many keys (commas and colons inside brackets are not nesting)', () => {
    const value = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, { v: i }]));
    const text = JSON.stringify(value);
    const source = readDefinitionSource(text, 'json');
    expect(source.value).toEqual(value);
    expect(source.locate(['k150', 'v'])).toEqual({ line: 1, column: text.indexOf('"k150":{"v"') + '"k150":{'.length + 1 });
  });

  it('locates list items, missing fields (at their parent) and unknown keys in YAML', () => {
    const text = 'a:\n  items:\n    - x: 1\n    - x: 2\n      typo: 3\n';
    const source = readDefinitionSource(text, 'yaml');
    expect(source.locate(['a', 'items', 1, 'x'])).toEqual({ line: 4, column: 7 });
    expect(source.locate(['a', 'items', 1, 'missing'])).toEqual({ line: 4, column: 7 });
    expect(source.locate(['a', 'items', 1], 'typo')).toEqual({ line: 5, column: 7 });
  });

  it('keeps anchors and aliases within the cap', () => {
    const text = 'common: &h {Accept: application/json}\none: *h\ntwo: *h\n';
    expect(readDefinitionSource(text, 'yaml').value).toEqual({ common: { Accept: 'application/json' }, one: { Accept: 'application/json' }, two: { Accept: 'application/json' } });
  });

  it.each([
    ['flow nesting', `${'['.repeat(65)}${']'.repeat(65)}`, /nested deeper than 64/],
    ['compact block nesting', `${'- '.repeat(65)}x`, /nested deeper than 64/],
    ['a second document', 'a: 1\n---\nb: 2\n', /not valid YAML/],
    ['a language tag', 'a: !!python/object:os.system "ls"\n', /tag/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => readDefinitionSource(text, 'yaml')).toThrow(DefinitionSourceError);
    expect(() => readDefinitionSource(text, 'yaml')).toThrow(message);
  });
});

describe('maskExchanges', () => {
  const exchange = (over: Partial<RecordedExchange>): RecordedExchange => ({ request: { method: 'GET', url: 'https://erp.example/x', headers: {} }, ...over });

  it('masks credentials, auth headers and tokens learned from a token call wherever they appear again; cursors stay readable', () => {
    const exchanges = [
      exchange({
        request: { method: 'POST', url: 'https://erp.example/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=api&password=hunter22' },
        response: { status: 200, headers: {}, body: { access_token: 'tok_abcdef123', expires_in: 30 }, truncated: false },
      }),
      exchange({
        request: { method: 'GET', url: 'https://erp.example/items?page_token=cur_42&sid=tok_abcdef123', headers: { authorization: 'Bearer tok_abcdef123', 'x-account': 'acct_77' } },
        response: { status: 200, headers: { 'set-cookie': 'session=s3cr3tcookie' }, body: { items: [], page_token: 'cur_43', echo: 'acct_77 used tok_abcdef123' }, truncated: false },
      }),
    ];
    const shown = maskExchanges({ exchanges }, exchanges, ['acct_77', 'x']);
    const text = JSON.stringify(shown);
    for (const secret of ['hunter22', 'tok_abcdef123', 'acct_77', 's3cr3tcookie']) expect(text).not.toContain(secret);
    expect(shown.exchanges[0]!.request.body).toBe('grant_type=password&username=api&password=***');
    expect(shown.exchanges[1]!.request.url).toBe('https://erp.example/items?page_token=cur_42&sid=***');
    expect(shown.exchanges[1]!.request.headers).toEqual({ authorization: '***', 'x-account': '***' });
    expect(shown.exchanges[1]!.response!.body).toEqual({ items: [], page_token: 'cur_43', echo: '*** used ***' });
    // A value shorter than 4 characters is not searched for (it would mask unrelated text).
    expect(text).toContain('example');
  });
});
