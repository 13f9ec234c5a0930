import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../../common/errors';

export interface VerifiedUser {
  userId: string;
  email?: string;
  role: string;
  sessionId?: string;
  /** Expiry, epoch seconds. */
  expiresAt: number;
  claims: JWTPayload & { sub: string; role: string };
}

export interface TokenVerifierOptions {
  /** HS256 secret (legacy Supabase projects, and the embedded auth). */
  jwtSecret?: string;
  /** JWKS endpoint for asymmetric keys (ES256/RS256/EdDSA), e.g. `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`. */
  jwksUrl?: string;
  issuer: string;
  audience?: string;
  /** Minimum time between two JWKS fetches (a token with an unknown kid triggers one). */
  jwksCooldownMs?: number;
  /** Allowed clock skew in seconds. */
  clockToleranceSeconds?: number;
  /** How far in the future `iat` may be (clock skew between issuer and us); default MAX_IAT_SKEW_SECONDS. */
  maxIssuedAtSkewSeconds?: number;
}

/**
 * A token "issued" later than now plus this is refused: jose checks `iat` only
 * with maxTokenAge, and a future iat is a sign of a forged or mis-minted token.
 */
export const MAX_IAT_SKEW_SECONDS = 60;

export type TokenVerifier = (token: string | undefined) => Promise<VerifiedUser>;

const ASYMMETRIC_ALGS = ['ES256', 'RS256', 'EdDSA'];

/**
 * Verifies Supabase access tokens. The algorithm decides the key — HS256 only
 * with the shared secret, asymmetric algorithms only with the JWKS — so a
 * token "signed" with a public key as an HMAC secret (algorithm confusion) or
 * with `alg: none` can never verify.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (!options.jwtSecret && !options.jwksUrl) throw new Error('token verifier needs a JWT secret or a JWKS URL');
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  // jose caches keys and refetches when a token names an unknown kid (at most once per cooldown).
  const jwks = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 600_000, cooldownDuration: options.jwksCooldownMs ?? 30_000, timeoutDuration: 5_000 })
    : undefined;
  const allowed = [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC_ALGS : [])];

  return async (token) => {
    if (!token) throw new AppError('token_missing', 'An access token is required');
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AppError('token_malformed', 'The access token is malformed');
    }
    if (!alg || !allowed.includes(alg)) {
      throw new AppError('token_unsupported_alg', `Tokens signed with ${alg ?? 'no algorithm'} are not accepted`);
    }
    try {
      const verifyOptions = {
        issuer: options.issuer,
        audience: options.audience ?? 'authenticated',
        algorithms: [alg],
        clockTolerance: options.clockToleranceSeconds ?? 0,
        requiredClaims: ['sub', 'exp'],
      };
      const { payload } =
        alg === 'HS256' ? await jwtVerify(token, secret!, verifyOptions) : await jwtVerify(token, jwks!, verifyOptions);
      const maxSkew = options.maxIssuedAtSkewSeconds ?? MAX_IAT_SKEW_SECONDS;
      if (payload.iat !== undefined && payload.iat > Math.floor(Date.now() / 1000) + maxSkew) {
        throw new AppError('token_not_yet_valid', 'The access token was issued in the future');
      }
      if (typeof payload.sub !== 'string' || !/^[0-9a-f-]{36}$/i.test(payload.sub)) {
        throw new AppError('token_invalid_claims', 'The access token has no valid subject');
      }
      const role = typeof payload.role === 'string' ? payload.role : 'authenticated';
      if (role !== 'authenticated') throw new AppError('token_invalid_claims', 'The access token is not a user token');
      return {
        userId: payload.sub,
        email: typeof payload.email === 'string' ? payload.email : undefined,
        role,
        sessionId: typeof payload.session_id === 'string' ? payload.session_id : undefined,
        expiresAt: payload.exp!,
        claims: { ...payload, sub: payload.sub, role },
      };
    } catch (err) {
      throw toTokenError(err);
    }
  };
}

function toTokenError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWTExpired) return new AppError('token_expired', 'The access token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat') return new AppError('token_not_yet_valid', 'The access token is not valid yet');
    return new AppError('token_invalid_claims', `The access token's ${err.claim} claim is not accepted`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AppError('token_invalid_signature', 'The access token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AppError('token_unknown_key', 'The access token was signed with an unknown key');
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new AppError('token_unsupported_alg', 'The access token algorithm is not accepted');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new AppError('unavailable', 'The signing keys could not be loaded; try again');
  }
  return new AppError('token_malformed', 'The access token is malformed');
}
