import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt is memory-hard (N·r·128 bytes per hash: 32 MiB at the defaults) and
 * built into Node, so there is no native addon to build. Parameters are stored
 * with each hash so they can be raised later without breaking old hashes.
 */
export interface PasswordHashOptions {
  cost?: number;
  blockSize?: number;
  parallelization?: number;
}

const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, options: PasswordHashOptions = {}): Promise<string> {
  const N = options.cost ?? 2 ** 15;
  const r = options.blockSize ?? 8;
  const p = options.parallelization ?? 1;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, { N, r, p, maxmem: 256 * N * r });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const N = Number(n);
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), { N, r: Number(r), p: Number(p), maxmem: 256 * N * Number(r) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
