import { describe, expect, it } from 'vitest';
import { NO_SOCKET_ADDRESS, resolveClientAddress } from './client-address';

describe('client address behind a trusted number of proxies', () => {
  const cases: Array<[string, { socketAddress?: string; forwardedFor?: string; trustedHops: number }, string]> = [
    ['hops 0 ignores X-Forwarded-For', { socketAddress: '203.0.113.7', forwardedFor: '198.51.100.1', trustedHops: 0 }, '203.0.113.7'],
    ['hops 1 takes the right-most entry', { socketAddress: '10.0.0.2', forwardedFor: '1.1.1.1, 198.51.100.9', trustedHops: 1 }, '198.51.100.9'],
    ['hops 2 takes the second from the right', { socketAddress: '10.0.0.2', forwardedFor: '1.1.1.1, 198.51.100.9, 10.0.0.1', trustedHops: 2 }, '198.51.100.9'],
    ['hops 1 without the header falls back to the socket', { socketAddress: '10.0.0.2', trustedHops: 1 }, '10.0.0.2'],
    ['too few entries fall back to the socket', { socketAddress: '10.0.0.2', forwardedFor: '1.1.1.1', trustedHops: 2 }, '10.0.0.2'],
    ['a garbage entry falls back to the socket', { socketAddress: '10.0.0.2', forwardedFor: 'evil', trustedHops: 1 }, '10.0.0.2'],
    ['IPv4-mapped IPv6 becomes IPv4', { socketAddress: '::ffff:127.0.0.1', trustedHops: 0 }, '127.0.0.1'],
    ['IPv6 is keyed by its /64', { socketAddress: '2001:db8:0:12:aaaa::1', trustedHops: 0 }, '2001:db8:0:12::/64'],
    ['a short IPv6 is expanded before taking the /64', { socketAddress: '2001:db8::1', trustedHops: 0 }, '2001:db8:0:0::/64'],
    ['no socket (in-process request) is one explicit bucket', { trustedHops: 0, forwardedFor: '1.1.1.1' }, NO_SOCKET_ADDRESS],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(resolveClientAddress(input)).toBe(expected));
  }
});
