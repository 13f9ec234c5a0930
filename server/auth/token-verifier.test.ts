import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from './token-verifier';

const ISSUER = 'http://127.0.0.1/auth/v1';
const SECRET = 'hs256-secret-'.padEnd(48, 'z');
const USER = '6f1c2b1e-4a55-4bb0-9a43-1d2f3e4a5b6c';

describe('access token verification (JWKS + HS256)', () => {
  let jwksServer: http.Server;
  let keys: JWK[] = [];
  let jwksFetches = 0;
  let es256: { privateKey: CryptoKey; publicKey: CryptoKey };
  let verify: TokenVerifier;

  const claims = (extra: Record<string, unknown> = {}) => ({ role: 'authenticated', email: 'a@example.com', session_id: 's1', ...extra });
  const now = () => Math.floor(Date.now() / 1000);
  const signEs = (kid: string, key = es256.privateKey, extra = {}) =>
    new SignJWT(claims(extra)).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(ISSUER).setAudience('authenticated').setSubject(USER).setIssuedAt().setExpirationTime('1h').sign(key);
  const signHs = (secret: string | Uint8Array = SECRET, build: (j: SignJWT) => SignJWT = (j) => j) =>
    build(new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('authenticated').setSubject(USER).setIssuedAt().setExpirationTime('1h')).sign(
      typeof secret === 'string' ? new TextEncoder().encode(secret) : secret,
    );

  beforeAll(async () => {
    es256 = await generateKeyPair('ES256', { extractable: true });
    keys = [{ ...(await exportJWK(es256.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }];
    jwksServer = http.createServer((req, res) => {
      if (req.url === '/auth/v1/.well-known/jwks.json') {
        jwksFetches++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const { port } = jwksServer.address() as AddressInfo;
    verify = createTokenVerifier({ jwtSecret: SECRET, jwksUrl: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`, issuer: ISSUER, jwksCooldownMs: 0 });
  });
  afterAll(() => new Promise<void>((r) => jwksServer.close(() => r())));

  it('accepts a valid ES256 token from the JWKS', async () => {
    const user = await verify(await signEs('k1'));
    expect(user).toMatchObject({ userId: USER, email: 'a@example.com', role: 'authenticated', sessionId: 's1' });
  });

  it('accepts a valid HS256 token signed with the project secret', async () => {
    expect((await verify(await signHs())).userId).toBe(USER);
  });

  it('refetches the JWKS when a token names a new kid (key rotation)', async () => {
    const rotated = await generateKeyPair('ES256', { extractable: true });
    const before = jwksFetches;
    keys = [...keys, { ...(await exportJWK(rotated.publicKey)), kid: 'k2', alg: 'ES256' }];
    expect((await verify(await signEs('k2', rotated.privateKey))).userId).toBe(USER);
    expect(jwksFetches).toBeGreaterThan(before);
  });

  const rejected: Array<[string, () => Promise<string | undefined>, string]> = [
    ['missing', async () => undefined, 'token_missing'],
    ['garbage', async () => 'not.a.jwt', 'token_malformed'],
    ['three random segments', async () => 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln', 'token_invalid_signature'],
    ['expired', () => signHs(SECRET, (j) => j.setIssuedAt(now() - 7200).setExpirationTime(now() - 60)), 'token_expired'],
    ['not yet valid', () => signHs(SECRET, (j) => j.setNotBefore(now() + 600)), 'token_not_yet_valid'],
    ['issued more than a minute in the future', () => signHs(SECRET, (j) => j.setIssuedAt(now() + 120)), 'token_not_yet_valid'],
    ['wrong audience', () => signHs(SECRET, (j) => j.setAudience('anon')), 'token_invalid_claims'],
    ['wrong issuer', () => signHs(SECRET, (j) => j.setIssuer('https://evil.example/auth/v1')), 'token_invalid_claims'],
    ['wrong HS256 secret', () => signHs('another-secret-'.padEnd(48, 'q')), 'token_invalid_signature'],
    [
      'alg none',
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: USER, aud: 'authenticated', iss: ISSUER, role: 'authenticated', exp: now() + 3600 })}.`;
      },
      'token_unsupported_alg',
    ],
    [
      'HS256 signed with the public key (algorithm confusion)',
      async () => signHs(new TextEncoder().encode(await exportSPKI(es256.publicKey))),
      'token_invalid_signature',
    ],
    [
      'unknown kid',
      async () => {
        const stranger = await generateKeyPair('ES256');
        return signEs('k-unknown', stranger.privateKey);
      },
      'token_unknown_key',
    ],
    ['ES256 with a known kid but the wrong key', async () => signEs('k1', (await generateKeyPair('ES256')).privateKey), 'token_invalid_signature'],
    ['service role token', () => signHs(SECRET, (j) => j.setSubject(USER)).then(async () => new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('authenticated').setSubject(USER).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET))), 'token_invalid_claims'],
  ];

  for (const [name, make, code] of rejected) {
    it(`rejects: ${name} → ${code}`, async () => {
      const token = await make();
      await expect(verify(token)).rejects.toMatchObject({ code, status: 401 });
    });
  }

  it('accepts an iat up to the allowed clock skew in the future', async () => {
    expect((await verify(await signHs(SECRET, (j) => j.setIssuedAt(now() + 30)))).userId).toBe(USER);
  });

  it('refuses HS256 entirely when only a JWKS is configured', async () => {
    const { port } = jwksServer.address() as AddressInfo;
    const jwksOnly = createTokenVerifier({ jwksUrl: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`, issuer: ISSUER });
    await expect(jwksOnly(await signHs())).rejects.toMatchObject({ code: 'token_unsupported_alg' });
    expect((await jwksOnly(await signEs('k1'))).userId).toBe(USER);
  });
});
