/**
 * The XML reader of declarative connectors: documents become plain objects of strings, a record path
 * selects one element and a repeated one alike, and everything that makes XML parsers dangerous
 * (DTDs, entity expansion, external entities, depth, size) is refused with a message.
 */
import { describe, expect, it } from 'vitest';
import { parsePath } from '../../src/domain/template.js';
import { escapeXml, parseXml, selectXml, XmlError } from '../../src/providers/declarative/xml.js';

const envelope = (items: string) => `<?xml version="1.0" encoding="utf-8"?>
<!-- answer of GetItems -->
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:items">
  <soap:Body>
    <m:GetItemsResponse>
      <m:Total>3</m:Total>
      <m:Items>${items}</m:Items>
    </m:GetItemsResponse>
  </soap:Body>
</soap:Envelope>`;

const item = (code: string, extra = '') => `<m:Item id="${code}"><m:Code>${code}</m:Code><m:Name>Name &amp; &lt;${code}&gt; &#x131;&#305;</m:Name>${extra}</m:Item>`;
const path = parsePath('Envelope.Body.GetItemsResponse.Items.Item');

describe('parseXml', () => {
  it('turns elements into objects of strings, strips namespace prefixes, keeps attributes as @name', () => {
    const doc = parseXml(envelope(item('A-1', '<m:Price currency="TRY">12,50</m:Price><m:Note><![CDATA[<b>bold</b> & co]]></m:Note><m:Empty/>')));
    expect(selectXml(doc, path)).toEqual([
      { '@id': 'A-1', Code: 'A-1', Name: 'Name & <A-1> ıı', Price: { '@currency': 'TRY', '#text': '12,50' }, Note: '<b>bold</b> & co', Empty: '' },
    ]);
    expect(selectXml(doc, parsePath('Envelope.Body.GetItemsResponse.Total'))).toEqual(['3']);
  });

  it('selects one element and a repeated one the same way: always a list', () => {
    expect(selectXml(parseXml(envelope(item('A-1'))), path).map((r) => (r as { Code: string }).Code)).toEqual(['A-1']);
    expect(selectXml(parseXml(envelope(item('A-1') + item('A-2') + item('A-3'))), path).map((r) => (r as { Code: string }).Code)).toEqual(['A-1', 'A-2', 'A-3']);
    expect(selectXml(parseXml(envelope('')), path)).toEqual([]);
    // A numeric step picks one of the matches.
    expect(selectXml(parseXml(envelope(item('A-1') + item('A-2'))), parsePath('Envelope.Body.GetItemsResponse.Items.Item[1].Code'))).toEqual(['A-2']);
  });

  it('reads element and attribute names in any script', () => {
    const doc = parseXml('<Ürünler><Ürün Birim="adet"><Adı>Çay bardağı</Adı></Ürün><Ürün><Adı>Şeker</Adı></Ürün></Ürünler>');
    expect(selectXml(doc, parsePath("['Ürünler']['Ürün']"))).toEqual([{ '@Birim': 'adet', Adı: 'Çay bardağı' }, { Adı: 'Şeker' }]);
  });

  it('collects matches under repeated parents too (XPath semantics)', () => {
    const doc = parseXml('<r><g><i>1</i><i>2</i></g><g><i>3</i></g></r>');
    expect(selectXml(doc, parsePath('r.g.i'))).toEqual(['1', '2', '3']);
  });

  it.each([
    ['billion laughs', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>', /document type declaration .* refused/],
    ['an external entity', '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>', /document type declaration .* refused/],
    ['an undeclared entity', '<foo>&xxe;</foo>', /unknown entity '&xxe;'/],
    ['a bare ampersand', '<foo>a & b</foo>', /bare '&'/],
    ['a mismatched close', '<a><b></a></b>', /<\/a> closes <b>/],
    ['an unclosed element', '<a><b>x</b>', /<a> is not closed/],
    ['two roots', '<a/><b/>', /second root/],
    ['no root', '<?xml version="1.0"?>', /no root element/],
    ['text outside the root', 'oops<a/>', /text outside the root/],
    ['an unquoted attribute', '<a x=1/>', /quoted value/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseXml(text)).toThrow(XmlError);
    expect(() => parseXml(text)).toThrow(message);
  });

  it('caps depth, size and element count', () => {
    const deep = '<a>'.repeat(65) + '</a>'.repeat(65);
    expect(() => parseXml(deep)).toThrow(/nested deeper than 64 levels/);
    expect(parseXml('<a>'.repeat(64) + '</a>'.repeat(64))).toBeTruthy();
    expect(() => parseXml(`<a>${'x'.repeat(101)}</a>`, { maxChars: 100, maxDepth: 64, maxElements: 10 })).toThrow(/over the 100-character cap/);
    expect(() => parseXml(`<a>${'<b/>'.repeat(10)}</a>`, { maxChars: 1000, maxDepth: 64, maxElements: 10 })).toThrow(/over the 10-element cap/);
  });
});

describe('escapeXml', () => {
  it('escapes markup so a value cannot change the document', () => {
    const hostile = '</a><b>';
    const doc = parseXml(`<r><a>${escapeXml(hostile)}</a><c x="${escapeXml(`"' onload="x`)}"/></r>`);
    expect(doc).toEqual({ r: { a: '</a><b>', c: { '@x': `"' onload="x` } } });
  });

  it('refuses characters XML cannot carry', () => {
    expect(() => escapeXml('a\u0000b')).toThrow(/control character/);
    expect(escapeXml('tab\tand\nline')).toBe('tab\tand\nline');
  });
});
