import type { VerifiedUser } from '../auth/token-verifier';

/** Variables the auth middleware puts on a Hono context. */
export type AuthedEnv = { Variables: { user: VerifiedUser } };
