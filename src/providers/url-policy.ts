/**
 * Outbound URL policy for tenant-supplied endpoints (declarative providers, ERP URLs): a guard
 * against server-side request forgery, applied at connect time.
 *
 * It checks the URL's hostname literally (no DNS lookup), so it stops the obvious attacks (metadata
 * endpoints, loopback, private ranges, numeric/IPv4-mapped spellings that the URL parser
 * normalises) but not a public name that resolves to a private address; production deployments
 * should also egress through a proxy or firewall that enforces the same ranges.
 */

export interface OutboundUrlPolicy {
  /** Allow loopback, private, link-local and metadata addresses (local development and tests). */
  allowPrivateNetworks: boolean;
  /** When non-empty, the host must match one entry (`api.example.com` or `*.example.com`). */
  allowedHosts?: string[];
  /** Hosts refused outright (`evil.example` or `*.evil.example`); checked first. */
  deniedHosts?: string[];
}

/** The URL is not allowed as an outbound destination. Carries no credentials from the URL. */
export class OutboundUrlError extends Error {
  override readonly name = 'OutboundUrlError';
}

const BLOCKED_IPV4: [base: number, prefix: number, label: string][] = [
  [ipv4ToInt([0, 0, 0, 0]), 8, 'this-network'],
  [ipv4ToInt([10, 0, 0, 0]), 8, 'private'],
  [ipv4ToInt([100, 64, 0, 0]), 10, 'carrier-grade NAT'],
  [ipv4ToInt([127, 0, 0, 0]), 8, 'loopback'],
  [ipv4ToInt([169, 254, 0, 0]), 16, 'link-local/metadata'],
  [ipv4ToInt([172, 16, 0, 0]), 12, 'private'],
  [ipv4ToInt([192, 168, 0, 0]), 16, 'private'],
  [ipv4ToInt([192, 0, 0, 0]), 24, 'IETF protocol assignments'],
  [ipv4ToInt([198, 18, 0, 0]), 15, 'benchmarking'],
  [ipv4ToInt([224, 0, 0, 0]), 4, 'multicast/reserved'],
];

function ipv4ToInt(octets: number[]): number {
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? ipv4ToInt(octets) : null;
}

function ipv4Block(ip: number): string | null {
  for (const [base, prefix, label] of BLOCKED_IPV4) {
    const size = 2 ** (32 - prefix);
    if (ip >= base && ip < base + size) return label;
  }
  return null;
}

/** Expands an IPv6 literal to 8 hextets; the URL parser first normalises dotted and short forms. */
function parseIpv6(host: string): number[] | null {
  if (!host.includes(':')) return null;
  let normalised: string;
  try {
    normalised = new URL(`http://[${host}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  const [head = '', rest] = normalised.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.length === 8 && all.every((h) => Number.isInteger(h) && h >= 0 && h <= 0xffff) ? all : null;
}

function ipv6Block(h: number[]): string | null {
  const [a = 0, , , , , f = 0, g = 0, last = 0] = h;
  const zeroPrefix = h.slice(0, 5).every((x) => x === 0);
  if (zeroPrefix && f === 0 && g === 0 && (last === 0 || last === 1))
    return last === 1 ? 'loopback' : 'unspecified';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses carry an IPv4 address.
  if (zeroPrefix && (f === 0xffff || f === 0)) return ipv4Block(g * 65536 + last);
  // NAT64 (64:ff9b::/96) also embeds an IPv4 address.
  if (a === 0x64 && h[1] === 0xff9b && h.slice(2, 6).every((x) => x === 0))
    return ipv4Block(g * 65536 + last);
  if ((a & 0xfe00) === 0xfc00) return 'unique-local';
  if ((a & 0xffc0) === 0xfe80) return 'link-local';
  if ((a & 0xff00) === 0xff00) return 'multicast';
  return null;
}

function hostMatches(host: string, pattern: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) return host.endsWith(p.slice(1));
  return host === p;
}

/** Why a hostname is private, or null when it is a public name/address. */
export function privateHostReason(hostname: string): string | null {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (host.endsWith('.internal') || host === 'internal' || host.endsWith('.local')) return 'internal name';
  const v4 = parseIpv4(host);
  if (v4 !== null) return ipv4Block(v4);
  const v6 = parseIpv6(host);
  if (v6) return ipv6Block(v6);
  return null;
}

/**
 * Throws OutboundUrlError unless `url` may be called under `policy`; returns the parsed URL.
 * Error messages never echo the URL's userinfo.
 */
export function checkOutboundUrl(url: string, policy: OutboundUrlPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundUrlError('Outbound URL is not a valid absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new OutboundUrlError(
      `Outbound URL scheme '${parsed.protocol.replace(/:$/, '')}' is not allowed (http or https only)`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new OutboundUrlError(
      'Outbound URL must not contain credentials (user:password@); use the auth settings',
    );
  }
  const host = parsed.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === '') throw new OutboundUrlError('Outbound URL has no host');
  if (policy.deniedHosts?.some((p) => hostMatches(host, p))) {
    throw new OutboundUrlError(`Outbound host '${host}' is denied by policy`);
  }
  if (
    policy.allowedHosts &&
    policy.allowedHosts.length > 0 &&
    !policy.allowedHosts.some((p) => hostMatches(host, p))
  ) {
    throw new OutboundUrlError(`Outbound host '${host}' is not in the allowed host list`);
  }
  if (!policy.allowPrivateNetworks) {
    const reason = privateHostReason(host);
    if (reason) {
      throw new OutboundUrlError(
        `Outbound host '${host}' is a ${reason} address; private networks are not allowed`,
      );
    }
  }
  return parsed;
}
