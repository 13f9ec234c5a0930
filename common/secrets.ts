import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { z } from 'zod';

/**
 * Secrets of the embedded default, generated on first start and kept in the
 * data directory (mode 0600) so a second start reuses them. Nothing secret is
 * ever in the repository.
 */
const secretsSchema = z.object({
  jwtSecret: z.string().min(32),
  anonKey: z.string().min(20),
  serviceRoleKey: z.string().min(20),
  postgresPassword: z.string().min(16),
  webhookSecret: z.string().min(32),
});
export type EmbeddedSecrets = z.infer<typeof secretsSchema>;

// Fixed claims: a key is a function of the secret and the role alone, so every instance derives the same string.
const API_KEY_ISSUED_AT = 1_700_000_000; // 2023-11-14
const API_KEY_EXPIRES_AT = 4_102_444_800; // 2100-01-01

/**
 * An API key the way Supabase makes them: a long-lived HS256 JWT naming a
 * role, signed with the project's JWT secret. Derived, not stored: the same
 * secret gives the same anon and service_role keys on every instance.
 */
export async function signApiKey(secret: string, role: 'anon' | 'service_role'): Promise<string> {
  return new SignJWT({ role, iss: 'supabase' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(API_KEY_ISSUED_AT)
    .setExpirationTime(API_KEY_EXPIRES_AT)
    .sign(new TextEncoder().encode(secret));
}

export async function loadOrCreateSecrets(dataDir: string): Promise<EmbeddedSecrets> {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const parsed = secretsSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (parsed.success) return parsed.data;
    throw new Error(`${file} is damaged (${parsed.error.issues[0]?.message}); remove it together with ${dataDir}/pg to start afresh`);
  }
  const jwtSecret = randomBytes(48).toString('base64url');
  const secrets: EmbeddedSecrets = {
    jwtSecret,
    anonKey: await signApiKey(jwtSecret, 'anon'),
    serviceRoleKey: await signApiKey(jwtSecret, 'service_role'),
    postgresPassword: randomBytes(24).toString('base64url'),
    webhookSecret: randomBytes(32).toString('base64url'),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}
