import { describe, expect, it } from 'vitest';
import {
  checkOutboundUrl,
  OutboundUrlError,
  type OutboundUrlPolicy,
} from '../../src/providers/url-policy.js';

const strict: OutboundUrlPolicy = { allowPrivateNetworks: false };
const dev: OutboundUrlPolicy = { allowPrivateNetworks: true };

describe('checkOutboundUrl', () => {
  it.each([
    ['https://api.acmepay.example/v1', strict],
    ['http://api.acmepay.example', strict],
    ['https://8.8.8.8', strict],
    ['https://172.32.0.1', strict],
    ['https://[2606:4700::1111]', strict],
    ['http://127.0.0.1:4010', dev],
    ['http://localhost:4010', dev],
    ['https://api.acmepay.example', { allowPrivateNetworks: false, allowedHosts: ['*.acmepay.example'] }],
    ['https://acmepay.example', { allowPrivateNetworks: false, allowedHosts: ['acmepay.example'] }],
    // The allow-list exempts a deployment's own internal systems from the private-address checks.
    ['http://127.0.0.1:4010', { allowPrivateNetworks: false, allowedHosts: ['127.0.0.1:4010'] }],
    ['http://erp.corp.internal', { allowPrivateNetworks: false, allowedHosts: ['*.corp.internal'] }],
  ])('allows %s', (url, policy) => {
    expect(checkOutboundUrl(url, policy).href).toBe(new URL(url).href);
  });

  it.each([
    ['ftp://api.example.com', strict, /scheme 'ftp'/],
    ['file:///etc/passwd', strict, /scheme 'file'/],
    ['gopher://api.example.com', dev, /scheme/],
    ['https://user:pw@api.example.com', dev, /must not contain credentials/],
    ['not a url', strict, /not a valid absolute URL/],
    ['http://127.0.0.1', strict, /loopback/],
    ['http://127.8.9.10:8080', strict, /loopback/],
    ['http://2130706433', strict, /loopback/], // decimal spelling of 127.0.0.1
    ['http://0x7f.1', strict, /loopback/], // hex spelling
    ['http://0.0.0.0', strict, /unspecified/],
    ['http://10.1.2.3', strict, /private/],
    ['http://172.16.0.1', strict, /private/],
    ['http://172.31.255.255', strict, /private/],
    ['http://192.168.1.1', strict, /private/],
    ['http://169.254.169.254/latest/meta-data', strict, /link-local/],
    ['http://[::1]', strict, /loopback/],
    ['http://[::ffff:127.0.0.1]', strict, /loopback/],
    ['http://[::ffff:169.254.169.254]', strict, /link-local/],
    ['http://[fc00::1]', strict, /unique-local/],
    ['http://[fd12:3456::1]', strict, /unique-local/],
    ['http://[fe80::1]', strict, /link-local/],
    ['http://localhost', strict, /loopback/],
    ['http://LOCALHOST.', strict, /loopback/],
    ['http://api.localhost', strict, /loopback/],
    ['http://metadata.google.internal', strict, /internal name/],
    ['http://payments.internal:8080', strict, /internal name/],
    ['https://evil.example', { allowPrivateNetworks: true, deniedHosts: ['evil.example'] }, /denied/],
    ['https://a.evil.example', { allowPrivateNetworks: true, deniedHosts: ['*.evil.example'] }, /denied/],
    ['http://127.0.0.1:4011', { allowPrivateNetworks: false, allowedHosts: ['127.0.0.1:4010'] }, /loopback/],
    ['http://[::ffff:127.0.0.1]', strict, /IPv4-mapped form of loopback/],
    ['http://[64:ff9b::a9fe:a9fe]', strict, /NAT64 form of link-local/],
  ])('refuses %s', (url, policy, message) => {
    expect(() => checkOutboundUrl(url, policy)).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrl(url, policy)).toThrow(message);
  });

  it('never echoes URL credentials in its message', () => {
    expect(() => checkOutboundUrl('https://admin:hunter2@api.example.com', strict)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});
