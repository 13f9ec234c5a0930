/**
 * HMAC-SHA256 webhook signatures with Web Crypto only, so the same file runs in
 * Node and in a Supabase Edge Function (Deno). The signed content is
 * `${timestamp}.${rawBody}`: binding the timestamp stops an old body being
 * replayed under a fresh timestamp.
 */
export const WEBHOOK_HEADERS = {
  signature: 'x-hmac-sha256',
  timestamp: 'x-webhook-timestamp',
  id: 'x-webhook-id',
} as const;

const encoder = new TextEncoder();

function signedContent(timestamp: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${timestamp}.`);
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix, 0);
  content.set(body, prefix.length);
  return content;
}

/** Imported once per factory: importKey is async and the secret does not change. */
export function importWebhookKey(secret: string): Promise<CryptoKey> {
  if (!secret) throw new Error('the webhook secret must not be empty');
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** Lower-case hex HMAC-SHA256 over `${timestamp}.${body}`. */
export async function signWebhook(key: CryptoKey, timestamp: string, body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, signedContent(timestamp, bytes)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * True when `signatureHex` is the HMAC of `${timestamp}.${body}`. The
 * comparison is crypto.subtle.verify's, which is constant-time (unlike
 * comparing hex strings with ===, which leaks the matching prefix length).
 */
export async function verifyWebhookSignature(key: CryptoKey, timestamp: string, body: Uint8Array, signatureHex: string): Promise<boolean> {
  const signature = hexToBytes(signatureHex.trim());
  if (!signature) return false;
  return crypto.subtle.verify('HMAC', key, signature, signedContent(timestamp, body));
}
