/**
 * Outbound URL policy for tenant-supplied endpoints (declarative providers, ERP/CRM and OAuth token
 * URLs). This is the string-level half: scheme, credentials in the URL, host lists and literal IP
 * addresses, checked when a definition or connection is saved (a fast, clear 400) and again by the
 * egress guard before every request. The guard (./egress/egress-fetch.ts) then resolves the name
 * and judges every address it connects to; a name alone proves nothing.
 */
import { isIP } from 'node:net';
import { blockedAddressReason } from './egress/ip-ranges.js';

export interface OutboundUrlPolicy {
  /** Allow loopback, private, link-local and other non-public addresses (local development and tests). */
  allowPrivateNetworks: boolean;
  /**
   * Host patterns (`erp.corp.example`, `*.corp.example`, optionally `:port`) that may be reached even
   * though they resolve to non-public addresses: a deployment's own internal systems. Never exempts
   * the deployment's Temporal or database endpoints.
   */
  allowedHosts?: string[];
  /** Hosts refused outright (`evil.example` or `*.evil.example`); checked first. */
  deniedHosts?: string[];
}

/** The URL or address is not allowed as an outbound destination. Carries no credentials from the URL. */
export class OutboundUrlError extends Error {
  override readonly name = 'OutboundUrlError';
}

/** Lower case, without brackets or a trailing dot. */
export function normaliseHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** `host` or `*.domain`, optionally with `:port` (then only that port matches). */
export function hostMatches(host: string, port: number, pattern: string): boolean {
  const m = /^(.*?)(?::(\d+))?$/.exec(pattern.trim().toLowerCase());
  const p = normaliseHost(m?.[1] ?? '');
  if (m?.[2] !== undefined && Number(m[2]) !== port) return false;
  if (p.startsWith('*.')) return host.endsWith(p.slice(1));
  return host === p;
}

/** Whether `host:port` is on the deployment's allow-list (exempt from the private-address checks). */
export function isAllowListed(policy: OutboundUrlPolicy, host: string, port: number): boolean {
  return policy.allowedHosts?.some((p) => hostMatches(normaliseHost(host), port, p)) ?? false;
}

/** Why a hostname is private by its spelling alone (names and IP literals), or null. */
export function privateHostReason(hostname: string): string | null {
  const host = normaliseHost(hostname);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (host.endsWith('.internal') || host === 'internal' || host.endsWith('.local')) return 'internal name';
  return isIP(host) ? blockedAddressReason(host) : null;
}

/** The port a URL connects to. */
export function urlPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * Throws OutboundUrlError unless `url` may be called under `policy`; returns the parsed URL.
 * Error messages never echo the URL's userinfo.
 */
export function checkOutboundUrl(url: string | URL, policy: OutboundUrlPolicy): URL {
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
  const host = normaliseHost(parsed.hostname);
  if (host === '') throw new OutboundUrlError('Outbound URL has no host');
  const port = urlPort(parsed);
  if (policy.deniedHosts?.some((p) => hostMatches(host, port, p))) {
    throw new OutboundUrlError(`Outbound host '${host}' is denied by policy`);
  }
  if (!policy.allowPrivateNetworks && !isAllowListed(policy, host, port)) {
    const reason = privateHostReason(host);
    if (reason) {
      throw new OutboundUrlError(
        `Outbound host '${host}' is not a public address (${reason}); private networks are not allowed`,
      );
    }
  }
  return parsed;
}
