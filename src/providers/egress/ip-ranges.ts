/** Which IP addresses a tenant-supplied URL may reach: public unicast only, judged with ipaddr.js. */
import ipaddr from 'ipaddr.js';

const LABELS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local/metadata',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
  private: 'private (RFC 1918)',
  reserved: 'reserved',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  rfc6052: 'local-use NAT64',
};

function label(range: string): string {
  return LABELS[range] ?? `special-purpose (${range})`;
}

/** The IPv4 address an IPv6 address carries (mapped, translated, NAT64, 6to4, Teredo, compatible). */
function embeddedIpv4(v6: ipaddr.IPv6): { form: string; v4: ipaddr.IPv4[] } | null {
  const b = v6.toByteArray();
  const at = (i: number) => new ipaddr.IPv4(b.slice(i, i + 4));
  switch (v6.range()) {
    case 'ipv4Mapped':
      return { form: 'IPv4-mapped', v4: [at(12)] };
    case 'rfc6145':
      return { form: 'IPv4-translated', v4: [at(12)] };
    case '6to4':
      return { form: '6to4', v4: [at(2)] };
    case 'teredo':
      // Server address in clear, client address bit-inverted (RFC 4380).
      return { form: 'Teredo', v4: [at(4), new ipaddr.IPv4(b.slice(12, 16).map((x) => x ^ 0xff))] };
    case 'rfc6052':
      // 64:ff9b::/96 embeds the address in the last 32 bits; the local-use /48 (RFC 8215) is refused whole.
      return v6.match(ipaddr.IPv6.parse('64:ff9b::'), 96) ? { form: 'NAT64', v4: [at(12)] } : null;
  }
  // Deprecated IPv4-compatible form ::a.b.c.d (not a named range in ipaddr.js).
  if (b.slice(0, 12).every((x) => x === 0)) return { form: 'IPv4-compatible', v4: [at(12)] };
  return null;
}

/**
 * Why `address` (an IP literal) must not be reached, or null when it is public unicast. Embedded
 * IPv4 forms are judged by the address they carry.
 */
export function blockedAddressReason(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return 'not an IP address';
  }
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    const range = v6.range();
    if (range === 'unspecified' || range === 'loopback') return label(range);
    const embedded = embeddedIpv4(v6);
    if (embedded) {
      for (const v4 of embedded.v4) {
        const inner = blockedAddressReason(v4.toString());
        if (inner) return `${embedded.form} form of ${inner}`;
      }
      return null;
    }
    return range === 'unicast' ? null : label(range);
  }
  const range = ip.range();
  return range === 'unicast' ? null : label(range);
}
