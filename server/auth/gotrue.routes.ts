import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { jsonHasControlCharacters } from '../../common/text';
import { clientAddress } from '../http/client-address';
import { readJson } from '../http/read-json';
import type { Limits } from '../limits/limits';
import { consumeOrRefuse } from '../limits/refusal';
import { type AuthStore, type AuthUserRow } from './gotrue.store';
import { hashPassword, verifyPassword, type PasswordHashOptions } from './passwords';
import type { TokenVerifier } from './token-verifier';

/**
 * The subset of GoTrue's REST API that @supabase/supabase-js uses for email +
 * password, served by our own process when no Supabase project is configured.
 * Tokens carry Supabase's claim set, so the rest of the product (and the
 * browser client) cannot tell the difference.
 */
export interface GoTrueOptions {
  store: AuthStore;
  verifyToken: TokenVerifier;
  jwtSecret: string;
  issuer: string;
  /** Whether the `apikey` header is a key of this project (see api-keys.ts). */
  isApiKey: (key: string | undefined) => Promise<boolean>;
  accessTokenTtlSeconds: number;
  /** Shared (Postgres) limits; see server/limits/limits.ts. */
  limits: Pick<Limits, 'signInPerAddress' | 'signupsPerAddress' | 'signInPerAccount'>;
  /** How many proxies of ours append to X-Forwarded-For (TRUST_PROXY_HOPS). */
  trustProxyHops: number;
  passwordHash?: PasswordHashOptions;
  /** The scrypt verifier; tests inject a counting one. */
  verifyPassword?: (password: string, stored: string) => Promise<boolean>;
  log: Logger;
}

const credentialsSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email('a valid email address is required')).pipe(z.string().max(255)),
  password: z.string().min(1, 'password is required').max(256, 'password is too long'),
});
/** user_metadata travels in every access token: 60 KB of it made tokens no proxy would pass (431). */
export const MAX_USER_METADATA_BYTES = 4096;
const signupSchema = credentialsSchema.extend({
  data: z
    .record(z.string(), z.unknown())
    .optional()
    .refine((data) => data === undefined || Buffer.byteLength(JSON.stringify(data)) <= MAX_USER_METADATA_BYTES, {
      message: `user metadata must be at most ${MAX_USER_METADATA_BYTES} bytes of JSON`,
    }),
})
  // user_metadata lands in jsonb, which refuses NUL: keys and string values follow the text rule (common/text.ts).
  .refine((body) => !jsonHasControlCharacters(body.data, { multiline: true }), { message: 'data must not contain control characters', path: ['data'] });
const refreshSchema = z.object({ refresh_token: z.string().min(10).max(200) });
const MIN_PASSWORD_LENGTH = 8;

export function createGoTrueRoutes(options: GoTrueOptions): Hono {
  const app = new Hono();
  const secret = new TextEncoder().encode(options.jwtSecret);
  const { limits } = options;
  const verify = options.verifyPassword ?? verifyPassword;
  // An unknown email is checked against this hash, so it costs one scrypt like a known one (no timing oracle).
  const dummyHash = hashPassword('no such user', options.passwordHash);
  dummyHash.catch(() => undefined);

  app.use('*', async (c, next) => {
    const apiKey = c.req.header('apikey');
    if (!(await options.isApiKey(apiKey))) throw new AppError('invalid_apikey', 'Invalid API key');
    await next();
  });

  async function issueSession(user: AuthUserRow, session: { sessionId: string; refreshToken: string }) {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + options.accessTokenTtlSeconds;
    const accessToken = await new SignJWT({
      aud: 'authenticated',
      role: 'authenticated',
      email: user.email,
      phone: '',
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      aal: 'aal1',
      amr: [{ method: 'password', timestamp: now }],
      session_id: session.sessionId,
      is_anonymous: false,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(options.issuer)
      .setSubject(user.id)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .sign(secret);
    return {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: options.accessTokenTtlSeconds,
      expires_at: expiresAt,
      refresh_token: session.refreshToken,
      user: toUserBody(user),
    };
  }

  app.post('/signup', async (c) => {
    await consumeOrRefuse(limits.signupsPerAddress, clientAddress(c, options.trustProxyHops));
    const body = signupSchema.safeParse(await readJson(c.req.raw));
    if (!body.success) throw new AppError('validation_failed', body.error.issues[0]?.message ?? 'invalid signup');
    if (body.data.password.length < MIN_PASSWORD_LENGTH) {
      throw new AppError('weak_password', `Password should be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const passwordHash = await hashPassword(body.data.password, options.passwordHash);
    const user = await options.store.createUser({ email: body.data.email, passwordHash, userMetadata: body.data.data ?? {} });
    if (!user) throw new AppError('user_already_exists', 'User already registered');
    options.log.info({ userId: user.id }, 'auth: user signed up');
    return c.json(await issueSession(user, await options.store.startSession(user.id)));
  });

  app.post('/token', async (c) => {
    const grantType = c.req.query('grant_type');
    if (grantType === 'password') {
      const body = credentialsSchema.safeParse(await readJson(c.req.raw));
      if (!body.success) throw new AppError('validation_failed', body.error.issues[0]?.message ?? 'invalid credentials');
      const address = clientAddress(c, options.trustProxyHops);
      // Hashed: keys stay short and the limits table holds no email addresses.
      const account = createHash('sha256').update(body.data.email).digest('base64url');
      // Attempts are counted before the password is checked (a success resets them), so
      // concurrent guesses cannot all pass one check. Keyed by address+account: one
      // source cannot lock a victim out from everywhere; the per-account delay covers many sources.
      const addressKey = `${address}|${account}`;
      await consumeOrRefuse(limits.signInPerAddress, addressKey);
      await limits.signInPerAccount.admit(account, address);
      const user = await options.store.findUserByEmail(body.data.email);
      const matches = await verify(body.data.password, user?.encrypted_password ?? (await dummyHash));
      if (!user?.encrypted_password || !matches) {
        options.log.warn({ ip: address }, 'auth: failed sign-in');
        throw new AppError('invalid_credentials', 'Invalid login credentials');
      }
      await Promise.all([limits.signInPerAddress.delete(addressKey), limits.signInPerAccount.succeeded(account, address)]);
      await options.store.touchSignIn(user.id);
      return c.json(await issueSession(user, await options.store.startSession(user.id)));
    }
    if (grantType === 'refresh_token') {
      const body = refreshSchema.safeParse(await readJson(c.req.raw));
      if (!body.success) throw new AppError('invalid_grant', 'Invalid Refresh Token: missing or malformed');
      const rotated = await options.store.rotateRefreshToken(body.data.refresh_token);
      if (rotated === 'unknown') throw new AppError('invalid_grant', 'Invalid Refresh Token: Refresh Token Not Found');
      if (rotated === 'reused') throw new AppError('invalid_grant', 'Invalid Refresh Token: Already Used');
      const user = await options.store.findUserById(rotated.userId);
      if (!user) throw new AppError('invalid_grant', 'Invalid Refresh Token: user no longer exists');
      return c.json(await issueSession(user, rotated));
    }
    throw new AppError('bad_request', 'grant_type must be password or refresh_token');
  });

  app.get('/user', async (c) => {
    const verified = await options.verifyToken(bearer(c.req.header('authorization')));
    const user = await options.store.findUserById(verified.userId);
    if (!user) throw new AppError('not_found', 'User not found');
    return c.json(toUserBody(user));
  });

  app.post('/logout', async (c) => {
    const verified = await options.verifyToken(bearer(c.req.header('authorization')));
    const scope = z.enum(['global', 'local', 'others']).catch('global').parse(c.req.query('scope'));
    await options.store.revokeSessions({ userId: verified.userId, sessionId: verified.sessionId, scope });
    return c.body(null, 204);
  });

  app.get('/settings', (c) =>
    c.json({ external: { email: true }, disable_signup: false, mailer_autoconfirm: true, phone_autoconfirm: false, sms_provider: '' }),
  );

  return app;
}

export function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

export function toUserBody(user: AuthUserRow) {
  return {
    id: user.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: user.email,
    email_confirmed_at: user.email_confirmed_at?.toISOString() ?? null,
    confirmed_at: user.email_confirmed_at?.toISOString() ?? null,
    phone: '',
    last_sign_in_at: user.last_sign_in_at?.toISOString() ?? null,
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: [],
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
    is_anonymous: false,
  };
}

