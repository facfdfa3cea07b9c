/**
 * XML for declarative connectors (SOAP and plain XML APIs): a guarded parser into plain objects,
 * record selection by a dotted path with XPath's "every match" semantics, and escaping for request
 * body templates.
 *
 * Written here rather than taken from a library: no XML parser is a dependency (fast-xml-parser is
 * not in node_modules), and what a connector needs is small — elements, attributes, text, CDATA,
 * the five predefined entities and character references. Everything that makes XML parsers
 * dangerous is refused outright instead of configured off: a document type declaration (`<!DOCTYPE`,
 * so no entity definitions, no external entities, no "billion laughs" expansion), and past caps on
 * size, depth and element count.
 */

/** An element as a value: text-only elements are strings, others objects (see parseXml). */
export type XmlValue = string | XmlObject;
export interface XmlObject {
  [name: string]: XmlValue | XmlValue[];
}

export interface XmlLimits {
  /** Characters of the document. */
  maxChars: number;
  /** Nesting depth of elements. */
  maxDepth: number;
  /** Elements in the document. */
  maxElements: number;
}

/**
 * 5 Mi characters (the egress guard's default answer cap is 5 MB, so this only bites when a larger
 * cap is configured), 64 levels (a SOAP envelope with deep records is about 10), 500,000 elements
 * (20,000 records of 25 fields).
 */
export const DEFAULT_XML_LIMITS: XmlLimits = { maxChars: 5 * 1024 * 1024, maxDepth: 64, maxElements: 500_000 };

/** The document is not XML we accept; the message says where and why. */
export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/** XML names: letters of any script (ERPs name elements in their own language), digits, `_ . - :`. */
const NAME = /[\p{L}_:][\p{L}\p{M}\p{N}_.:\-\u00b7]*/uy;
const SPACE = /\s*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Without its namespace prefix: `soap:Envelope` → `Envelope`. */
const localName = (name: string) => name.slice(name.indexOf(':') + 1);

function decodeText(raw: string, at: number): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlError(`a bare '&' near character ${at} (write &amp;)`);
    if (ref in ENTITIES) return ENTITIES[ref]!;
    const code = /^#x([0-9a-f]{1,6})$/i.exec(ref) ? parseInt(ref.slice(2), 16) : /^#(\d{1,7})$/.exec(ref) ? Number(ref.slice(1)) : NaN;
    if (Number.isNaN(code)) throw new XmlError(`unknown entity '&${ref};' near character ${at} (only the five predefined entities and character references are read)`);
    if (code > 0x10ffff || code === 0 || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError(`character reference '&${ref};' near character ${at} is not a character`);
    return String.fromCodePoint(code);
  });
}

interface Frame {
  name: string;
  attributes: [string, string][];
  children: [string, XmlValue][];
  text: string;
}

function valueOf(frame: Frame): XmlValue {
  if (frame.children.length === 0 && frame.attributes.length === 0) return frame.text;
  const out: XmlObject = {};
  const add = (key: string, value: XmlValue) => {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  };
  for (const [key, value] of frame.attributes) add(`@${key}`, value);
  for (const [key, value] of frame.children) add(key, value);
  if (frame.text.trim() !== '') add('#text', frame.text);
  return out;
}

/**
 * Parses an XML document into `{ <root>: value }`. An element with neither attributes nor child
 * elements is its text (a string, '' when empty); any other is an object of its attributes (`@name`),
 * its children by name (an array when a name repeats) and its text (`#text`) when not blank.
 * Namespace prefixes are stripped (`soap:Body` → `Body`) and `xmlns` attributes dropped. Values stay
 * strings: mappings convert them.
 */
export function parseXml(text: string, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlObject {
  if (text.length > limits.maxChars) throw new XmlError(`the document is ${text.length} characters, over the ${limits.maxChars}-character cap`);
  const stack: Frame[] = [];
  let root: XmlObject | undefined;
  let elements = 0;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (message: string): never => {
    throw new XmlError(`${message} (character ${i})`);
  };
  const skipTo = (end: string, what: string) => {
    const at = text.indexOf(end, i);
    if (at < 0) fail(`unterminated ${what}`);
    const inner = text.slice(i, at);
    i = at + end.length;
    return inner;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const match = NAME.exec(text);
    if (!match) fail('expected a name');
    i = NAME.lastIndex;
    return match![0];
  };
  const space = () => {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    i = SPACE.lastIndex;
  };

  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    if (chunk !== '') {
      const top = stack.at(-1);
      if (top) top.text += decodeText(chunk, i);
      else if (chunk.trim() !== '') fail('text outside the root element');
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      i += 4;
      skipTo('-->', 'comment');
    } else if (text.startsWith('<![CDATA[', i)) {
      const top = stack.at(-1) ?? fail('CDATA outside the root element');
      i += 9;
      top.text += skipTo(']]>', 'CDATA section');
    } else if (text.startsWith('<!', i)) {
      // DOCTYPE and its ENTITY declarations are where entity expansion and external entities live.
      fail('a document type declaration (<!DOCTYPE …>) is refused: no DTDs or entity definitions are read');
    } else if (text.startsWith('<?', i)) {
      i += 2;
      skipTo('?>', 'processing instruction');
    } else if (text.startsWith('</', i)) {
      i += 2;
      const closing = name();
      space();
      if (text[i] !== '>') fail(`expected '>' after </${closing}`);
      i += 1;
      const frame = stack.pop() ?? fail(`</${closing}> closes nothing`);
      if (frame.name !== closing) fail(`</${closing}> closes <${frame.name}>`);
      const value = valueOf(frame);
      const parent = stack.at(-1);
      if (parent) parent.children.push([localName(closing), value]);
      else root = { [localName(closing)]: value };
    } else {
      i += 1;
      if (root) fail('a second root element');
      const frame: Frame = { name: name(), attributes: [], children: [], text: '' };
      elements += 1;
      if (elements > limits.maxElements) fail(`over the ${limits.maxElements}-element cap`);
      if (stack.length + 1 > limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`);
      for (;;) {
        space();
        if (text.startsWith('/>', i) || text[i] === '>') break;
        const attribute = name();
        space();
        if (text[i] !== '=') fail(`expected '=' after attribute ${attribute}`);
        i += 1;
        space();
        const quote = text[i];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attribute} needs a quoted value`);
        i += 1;
        const start = i;
        const raw = skipTo(quote!, `value of attribute ${attribute}`);
        if (raw.includes('<')) fail(`'<' in the value of attribute ${attribute}`);
        if (attribute !== 'xmlns' && !attribute.startsWith('xmlns:')) frame.attributes.push([localName(attribute), decodeText(raw, start)]);
      }
      if (text.startsWith('/>', i)) {
        i += 2;
        const value = valueOf(frame);
        const parent = stack.at(-1);
        if (parent) parent.children.push([localName(frame.name), value]);
        else root = { [localName(frame.name)]: value };
      } else {
        i += 1;
        stack.push(frame);
      }
    }
  }
  if (stack.length > 0) fail(`<${stack.at(-1)!.name}> is not closed`);
  if (!root) fail('no root element');
  return root!;
}

/**
 * The nodes at a dotted path (`Envelope.Body.GetItemsResponse.Items.Item`), XPath style: each step
 * takes that child of every node reached so far, so one element and a repeated one both come back
 * as a list, and so do repeated elements on the way. A numeric step (`Item[0]`) picks one.
 */
export function selectXml(document: XmlObject, path: (string | number)[]): XmlValue[] {
  let nodes: XmlValue[] = [document];
  for (const step of path) {
    if (typeof step === 'number') {
      nodes = nodes[step] === undefined ? [] : [nodes[step]];
      continue;
    }
    const next: XmlValue[] = [];
    for (const node of nodes) {
      if (typeof node === 'string') continue;
      const child = node[step];
      if (Array.isArray(child)) next.push(...child);
      else if (child !== undefined) next.push(child);
    }
    nodes = next;
  }
  return nodes;
}

const XML_ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

/**
 * Escapes a value for XML text or a quoted attribute. Characters XML 1.0 cannot carry at all
 * (control characters other than tab and line ends) are refused rather than dropped silently.
 */
export function escapeXml(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(value)) throw new XmlError('a control character cannot be written in XML');
  return value.replace(/[<>&"']/g, (c) => XML_ESCAPES[c]!);
}
