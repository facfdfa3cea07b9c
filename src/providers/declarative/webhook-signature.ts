/**
 * Webhook signatures described as parts, shared by gateway callbacks, CRM webhooks and ERP webhooks:
 * where the signature, timestamp and id are (headers, or key=value pairs inside one header), what is
 * signed (a template over id, timestamp and the raw body), the HMAC algorithm, the encoding of the
 * signature and of the secret, several signatures at once (secret rotation) and the tolerance.
 * `preset: stripe | standard_webhooks` fills the parts from a table; explicit fields override it. The
 * first format (`scheme: hmac_sha256`, one header, optional `timestampHeader`) is the same parts with
 * their defaults, so stored definitions keep validating and verifying as before.
 *
 * HMAC and constant-time comparison come from node:crypto; only the reading of the header is ours,
 * because each system lays its header out differently and that layout is what the parts describe.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { parseTemplate, renderString, templateVariables } from '../../domain/template.js';
import { WebhookSignatureError, type HeaderBag } from '../types.js';

const ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;
const TIMESTAMP_FORMATS = ['unix', 'seconds', 'milliseconds', 'iso8601', 'unix_or_iso8601'] as const;
const SIGNED_VARIABLES = ['id', 'timestamp', 'body'] as const;

const headerName = z.string().min(1).max(200);
const pairKey = z.string().min(1).max(100);

const pairsSchema = z
  .strictObject({
    separator: z.string().min(1).max(5).default(',').meta({ description: "Between pairs: ',' (Stripe) or ' ' (Standard Webhooks)." }),
    assign: z.string().min(1).max(5).default('=').meta({ description: "Between key and value: '=' (Stripe) or ',' (Standard Webhooks)." }),
  })
  .refine((p) => p.separator !== p.assign, { message: 'separator and assign must differ', path: ['assign'] });

const partsShape = {
  preset: z
    .enum(['stripe', 'standard_webhooks'])
    .optional()
    .meta({ description: 'Fills the parts as the named scheme lays them out; fields set next to it override the preset.' }),
  scheme: z
    .literal('hmac_sha256')
    .optional()
    .meta({ description: 'First format: HMAC-SHA256. Same as algorithm: sha256 (the default).' }),
  secretCredential: z.string().min(1).max(100).meta({ description: 'Name of the credential that holds the signing secret.' }),
  secretEncoding: z.enum(['utf8', 'base64']).optional().meta({
    description: "utf8 (default): the secret's text is the key. base64: the key is the base64 after an optional 'whsec_' prefix (Standard Webhooks).",
  }),
  algorithm: z.enum(ALGORITHMS).optional().meta({ description: 'HMAC hash. Default sha256.' }),
  encoding: z.enum(['hex', 'base64']).optional().meta({ description: 'How the signature is written. Default hex.' }),
  header: headerName.optional().meta({ description: 'Header carrying the signature (required unless a preset names it).' }),
  prefix: z
    .string()
    .max(50)
    .optional()
    .meta({ description: "Stripped from each signature before comparing, e.g. 'sha256='." }),
  pairs: pairsSchema.optional().meta({
    description: 'The header holds key/value pairs (e.g. t=1733580000,v1=<sig>): signatures are the values of signatureKey, the timestamp the value of timestampKey.',
  }),
  signatureKey: pairKey.optional().meta({ description: 'With pairs: the key of a signature; several pairs with it are several signatures (rotation).' }),
  timestampKey: pairKey.optional().meta({ description: 'With pairs: the key of the timestamp.' }),
  timestampHeader: headerName.optional().meta({ description: 'Header carrying the timestamp, when it has its own.' }),
  idHeader: headerName.optional().meta({ description: "Header carrying the delivery id (Standard Webhooks' webhook-id), signed as {{id}}." }),
  timestampFormat: z.enum(TIMESTAMP_FORMATS).optional().meta({
    description: 'unix (default): seconds, or milliseconds when longer than 11 digits; seconds; milliseconds; iso8601; unix_or_iso8601.',
  }),
  signedPayload: z
    .string()
    .max(500)
    .optional()
    .meta({ description: "What is signed: '{{body}}' (raw bytes, the default) with {{id}} and {{timestamp}} around it, e.g. '{{timestamp}}.{{body}}'." }),
  toleranceSeconds: z.number().int().positive().optional().meta({ description: 'How far the timestamp may be from now. Default 300.' }),
};

type Parts = z.output<z.ZodObject<typeof partsShape>>;

/** A verified rule: every part resolved (preset applied, defaults filled). */
export interface WebhookSignatureRule {
  secretCredential: string;
  secretEncoding: 'utf8' | 'base64';
  algorithm: (typeof ALGORITHMS)[number];
  encoding: 'hex' | 'base64';
  header: string;
  prefix?: string;
  pairs?: { separator: string; assign: string };
  signatureKey?: string;
  timestampKey?: string;
  timestampHeader?: string;
  idHeader?: string;
  timestampFormat: (typeof TIMESTAMP_FORMATS)[number];
  signedPayload: string;
  toleranceSeconds: number;
}

/** The presets, written in the same parts a definition may use: no code path of their own. */
export const SIGNATURE_PRESETS = {
  /** `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, keyed with the whole whsec_ text. */
  stripe: {
    header: 'Stripe-Signature',
    pairs: { separator: ',', assign: '=' },
    signatureKey: 'v1',
    timestampKey: 't',
    timestampFormat: 'seconds',
    signedPayload: '{{timestamp}}.{{body}}',
    algorithm: 'sha256',
    encoding: 'hex',
    secretEncoding: 'utf8',
    toleranceSeconds: 300,
  },
  /** webhook-id, webhook-timestamp, `webhook-signature: v1,<base64> v1,<base64>`; the key is the base64 after whsec_. */
  standard_webhooks: {
    header: 'webhook-signature',
    idHeader: 'webhook-id',
    timestampHeader: 'webhook-timestamp',
    pairs: { separator: ' ', assign: ',' },
    signatureKey: 'v1',
    timestampFormat: 'seconds',
    signedPayload: '{{id}}.{{timestamp}}.{{body}}',
    algorithm: 'sha256',
    encoding: 'base64',
    secretEncoding: 'base64',
    toleranceSeconds: 300,
  },
} as const satisfies Record<string, Omit<WebhookSignatureRule, 'secretCredential'>>;

const DEFAULTS = {
  secretEncoding: 'utf8',
  algorithm: 'sha256',
  encoding: 'hex',
  timestampFormat: 'unix',
  signedPayload: '{{body}}',
  toleranceSeconds: 300,
} as const;

/** Resolves the parts (preset, then explicit fields, then defaults) and reports every inconsistency at its field. */
function resolveParts(parts: Parts, ctx: z.core.$RefinementCtx<Parts>): WebhookSignatureRule {
  const { preset, scheme, ...explicit } = parts;
  const set = Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined));
  const rule = { ...DEFAULTS, ...(preset ? SIGNATURE_PRESETS[preset] : {}), ...set } as WebhookSignatureRule;
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, input: parts });
  if (scheme && rule.algorithm !== 'sha256') issue('algorithm', `scheme: hmac_sha256 contradicts algorithm: ${rule.algorithm}; drop scheme`);
  if (!rule.header) issue('header', 'set the header that carries the signature (or a preset)');
  if (rule.pairs) {
    if (!rule.signatureKey) issue('signatureKey', 'with pairs, name the key of the signature (e.g. v1)');
  } else {
    if (rule.signatureKey) issue('signatureKey', 'signatureKey reads key=value pairs: set pairs');
    if (rule.timestampKey) issue('timestampKey', 'timestampKey reads key=value pairs: set pairs');
  }
  if (rule.timestampKey && rule.timestampHeader) issue('timestampHeader', 'the timestamp comes from timestampKey or timestampHeader, not both');
  let variables: string[] = [];
  try {
    variables = templateVariables(rule.signedPayload);
    const bodyWithFilters = parseTemplate(rule.signedPayload).some((p) => p.kind === 'expr' && p.expr.path === 'body' && p.expr.filters.length > 0);
    if (!variables.includes('body') || variables.some((v) => !(SIGNED_VARIABLES as readonly string[]).includes(v))) {
      issue('signedPayload', "signedPayload must contain '{{body}}' and may only use '{{id}}' and '{{timestamp}}' besides it");
    } else if (bodyWithFilters) {
      issue('signedPayload', "'{{body}}' takes no filters: it is spliced in as the raw bytes received");
    }
  } catch (err) {
    issue('signedPayload', (err as Error).message);
  }
  if (variables.includes('timestamp') && !rule.timestampHeader && !rule.timestampKey) {
    issue(rule.pairs ? 'timestampKey' : 'timestampHeader', "signedPayload uses '{{timestamp}}': set timestampHeader (or timestampKey with pairs)");
  }
  if (variables.includes('id') && !rule.idHeader) issue('idHeader', "signedPayload uses '{{id}}': set idHeader");
  return rule;
}

/**
 * A webhook signature rule as written in a definition (parts, a preset, or the first format), resolved
 * to every part. The JSON Schema shows the written form.
 */
export const webhookSignatureSchema = z
  .strictObject(partsShape)
  .transform(resolveParts)
  .meta({ id: 'WebhookSignature', description: 'How webhooks are signed, as parts. See docs/declarative-providers.md, Webhook signatures.' });

export type WebhookSignatureInput = z.input<typeof webhookSignatureSchema>;

/** A rule that names a credential a definition declares (the definition's own check; ERP credentials are free-form). */
export function checkSignatureCredential(
  rule: WebhookSignatureRule,
  at: (string | number)[],
  credentialNames: Set<string>,
  ctx: z.core.$RefinementCtx,
): void {
  if (!credentialNames.has(rule.secretCredential)) {
    ctx.addIssue({ code: 'custom', path: [...at, 'secretCredential'], message: `'${rule.secretCredential}' is not a declared credential` });
  }
}

/** Header values by case-insensitive name; arrays flattened. */
export function headerValues(headers: HeaderBag, name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    out.push(...(Array.isArray(value) ? value : [value]));
  }
  return out;
}

/** The bytes that were signed: the signedPayload template with `{{body}}` spliced in as raw bytes. */
export function signedPayloadBytes(rule: WebhookSignatureRule, rawBody: Buffer, vars: { id?: string; timestamp?: string }): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parseTemplate(rule.signedPayload)) {
    if (part.kind === 'text') chunks.push(Buffer.from(part.text, 'utf8'));
    else if (part.expr.path === 'body') chunks.push(rawBody);
    else chunks.push(Buffer.from(renderString(`{{${part.source}}}`, vars), 'utf8'));
  }
  return Buffer.concat(chunks);
}

function secretKey(rule: WebhookSignatureRule, secret: string): Buffer {
  if (rule.secretEncoding === 'utf8') return Buffer.from(secret, 'utf8');
  const text = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new WebhookSignatureError(`The ${rule.secretCredential} credential is not base64 (secretEncoding: base64)`);
  return Buffer.from(text, 'base64');
}

function hmac(rule: WebhookSignatureRule, secret: string, payload: Buffer): Buffer {
  return createHmac(rule.algorithm, secretKey(rule, secret)).update(payload).digest();
}

/** The pairs of one header value, in order (`t=1,v1=a,v1=b` → [t,1], [v1,a], [v1,b]). */
function readPairs(value: string, pairs: { separator: string; assign: string }): [string, string][] {
  const out: [string, string][] = [];
  for (const item of value.split(pairs.separator)) {
    const at = item.indexOf(pairs.assign);
    if (at <= 0) continue;
    out.push([item.slice(0, at).trim(), item.slice(at + pairs.assign.length).trim()]);
  }
  return out;
}

/** Epoch ms of a timestamp in the rule's format; NaN when it is not in that format. */
export function timestampMs(value: string, format: WebhookSignatureRule['timestampFormat']): number {
  const digits = /^\d{1,15}$/.test(value);
  switch (format) {
    case 'seconds':
      return digits ? Number(value) * 1000 : Number.NaN;
    case 'milliseconds':
      return digits ? Number(value) : Number.NaN;
    case 'unix':
      return digits ? (value.length > 11 ? Number(value) : Number(value) * 1000) : Number.NaN;
    case 'iso8601':
      return /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
    case 'unix_or_iso8601':
      return digits ? timestampMs(value, 'unix') : timestampMs(value, 'iso8601');
  }
}

function decodeSignature(text: string, encoding: 'hex' | 'base64'): Buffer | null {
  if (encoding === 'hex') return /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : null;
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
}

/** What a delivery says: its signatures, timestamp and id, read where the rule says they are. */
function readDelivery(rule: WebhookSignatureRule, headers: HeaderBag): { signatures: string[]; timestamp?: string; id?: string } {
  const values = headerValues(headers, rule.header);
  let signatures: string[];
  let timestamp: string | undefined;
  if (rule.pairs) {
    const pairs = values.flatMap((v) => readPairs(v, rule.pairs!));
    signatures = pairs.filter(([k]) => k === rule.signatureKey).map(([, v]) => v);
    if (rule.timestampKey) timestamp = pairs.find(([k]) => k === rule.timestampKey)?.[1];
  } else {
    // The first format: one or more signatures separated by commas.
    signatures = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  }
  signatures = signatures.filter((s) => s !== '');
  if (rule.timestampHeader) timestamp = headerValues(headers, rule.timestampHeader)[0]?.trim();
  const id = rule.idHeader ? headerValues(headers, rule.idHeader)[0]?.trim() : undefined;
  return { signatures, ...(timestamp !== undefined ? { timestamp } : {}), ...(id !== undefined ? { id } : {}) };
}

/** Throws WebhookSignatureError (saying which check failed) unless one of the delivery's signatures matches. */
export function verifyWebhookSignature(rule: WebhookSignatureRule, secret: string, rawBody: Buffer, headers: HeaderBag, nowMs: number): void {
  const { signatures, timestamp, id } = readDelivery(rule, headers);
  const timestampSource = rule.timestampHeader ? `${rule.timestampHeader} header` : rule.timestampKey ? `'${rule.timestampKey}' in ${rule.header}` : undefined;
  if (timestampSource) {
    const at = timestamp ? timestampMs(timestamp, rule.timestampFormat) : Number.NaN;
    if (Number.isNaN(at)) throw new WebhookSignatureError(`Missing or malformed ${timestampSource}`);
    if (Math.abs(nowMs - at) > rule.toleranceSeconds * 1000) {
      throw new WebhookSignatureError(`Webhook timestamp is outside the ${rule.toleranceSeconds}s tolerance`);
    }
  }
  if (rule.idHeader && !id && templateVariables(rule.signedPayload).includes('id')) {
    throw new WebhookSignatureError(`Missing ${rule.idHeader} header`);
  }
  if (signatures.length === 0) {
    throw new WebhookSignatureError(rule.signatureKey ? `Missing '${rule.signatureKey}' signature in ${rule.header}` : `Missing ${rule.header} header`);
  }
  const expected = hmac(rule, secret, signedPayloadBytes(rule, rawBody, { id, timestamp }));
  for (const candidate of signatures) {
    if (rule.prefix && !candidate.startsWith(rule.prefix)) continue;
    const given = decodeSignature(rule.prefix ? candidate.slice(rule.prefix.length) : candidate, rule.encoding);
    if (given && given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookSignatureError('Webhook signature does not match');
}

/**
 * The headers a sender following `rule` would add (used by emulators and tests): one signature per
 * secret, several during a rotation. `timestamp` is written as given (its format is the sender's).
 */
export function signWebhook(
  rule: WebhookSignatureRule,
  secrets: string | readonly string[],
  rawBody: Buffer,
  delivery: { timestamp?: string; id?: string } = {},
): Record<string, string> {
  const payload = signedPayloadBytes(rule, rawBody, delivery);
  const signatures = (typeof secrets === 'string' ? [secrets] : secrets).map((s) => (rule.prefix ?? '') + hmac(rule, s, payload).toString(rule.encoding));
  const headers: Record<string, string> = {};
  if (rule.pairs) {
    const entries: [string, string][] = signatures.map((s) => [rule.signatureKey!, s]);
    if (rule.timestampKey && delivery.timestamp !== undefined) entries.unshift([rule.timestampKey, delivery.timestamp]);
    headers[rule.header] = entries.map(([k, v]) => `${k}${rule.pairs!.assign}${v}`).join(rule.pairs.separator);
  } else {
    headers[rule.header] = signatures.join(',');
  }
  if (rule.timestampHeader && delivery.timestamp !== undefined) headers[rule.timestampHeader] = delivery.timestamp;
  if (rule.idHeader && delivery.id !== undefined) headers[rule.idHeader] = delivery.id;
  return headers;
}

/** Resolves a rule written in code (emulators, tests, built-in defaults); throws on an invalid one. */
export function webhookSignatureRule(input: WebhookSignatureInput): WebhookSignatureRule {
  return webhookSignatureSchema.parse(input);
}
