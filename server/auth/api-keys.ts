import { jwtVerify } from 'jose';

/**
 * The `apikey` header of the embedded auth, checked the way Supabase's keys
 * work: an API key is a JWT naming the role `anon` or `service_role`, signed
 * with the project's JWT secret. Checking the signature — not comparing with
 * one stored string — makes a key minted by any instance sharing the secret
 * valid on all of them, so a load balancer may send a client anywhere.
 */
export function createApiKeyCheck(jwtSecret: string, options: { cacheSize?: number } = {}) {
  const secret = new TextEncoder().encode(jwtSecret);
  const cacheSize = options.cacheSize ?? 1_000;
  // Keys are few and long-lived: remember the verdicts, oldest forgotten first.
  const verdicts = new Map<string, boolean>();
  return async function isApiKey(key: string | undefined): Promise<boolean> {
    if (!key || key.length > 2_000) return false;
    const known = verdicts.get(key);
    if (known !== undefined) return known;
    let ok = false;
    try {
      const { payload } = await jwtVerify(key, secret, { algorithms: ['HS256'] });
      ok = payload.role === 'anon' || payload.role === 'service_role';
    } catch {
      ok = false;
    }
    verdicts.set(key, ok);
    if (verdicts.size > cacheSize) verdicts.delete(verdicts.keys().next().value as string);
    return ok;
  };
}
