import { isIP } from 'node:net';
import type { Context } from 'hono';

/**
 * The address every per-client limit is keyed on. `X-Forwarded-For` is
 * written by whoever sends the request, so it is only believed for as many
 * hops as we run proxies ourselves (TRUST_PROXY_HOPS, Express's "trust proxy"
 * hop count): with 0 the socket's peer is the client; with N the N-th entry
 * from the right — the one our outermost proxy appended — is.
 */

/** Requests built in-process (`app.request()` in tests) have no socket; they all share this one bucket. */
export const NO_SOCKET_ADDRESS = 'no-socket';

export function resolveClientAddress(input: { socketAddress?: string; forwardedFor?: string | null; trustedHops: number }): string {
  const socket = input.socketAddress ? normalize(input.socketAddress) : NO_SOCKET_ADDRESS;
  if (input.trustedHops <= 0 || !input.forwardedFor) return socket;
  const hops = input.forwardedFor.split(',').map((entry) => entry.trim());
  // Fewer entries than trusted proxies means the request skipped a proxy: only the socket is known.
  const candidate = hops[hops.length - input.trustedHops];
  return candidate && isIP(candidate) ? normalize(candidate) : socket;
}

/** The client address of a Hono request served by @hono/node-server (see resolveClientAddress). */
export function clientAddress(c: Context, trustedHops: number): string {
  // getConnInfo() from @hono/node-server/conninfo throws when there is no socket; read it ourselves.
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return resolveClientAddress({ socketAddress: env?.incoming?.socket?.remoteAddress, forwardedFor: c.req.header('x-forwarded-for'), trustedHops });
}

/**
 * IPv4-mapped IPv6 becomes plain IPv4; other IPv6 addresses are reduced to
 * their /64, because one host usually holds a whole /64 and could otherwise
 * rotate through it to get a fresh bucket per request.
 */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6 || address.includes('.')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
