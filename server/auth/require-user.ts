import type { MiddlewareHandler } from 'hono';
import type { AuthedEnv } from '../http/types';
import { bearer } from './gotrue.routes';
import type { TokenVerifier } from './token-verifier';

/** Rejects requests without a valid Supabase access token (401, stable code); otherwise sets `c.var.user`. */
export function requireUser(verifyToken: TokenVerifier): MiddlewareHandler<AuthedEnv> {
  return async (c, next) => {
    c.set('user', await verifyToken(bearer(c.req.header('authorization'))));
    await next();
  };
}
