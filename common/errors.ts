/**
 * The one error type of the product. Every failure that reaches a client is an
 * AppError with a code from the closed set below; anything else is logged and
 * sent as `internal`, so internal text never leaks.
 */
export const ErrorCodes = {
  bad_request: 400,
  validation_failed: 400,
  invalid_symbol: 400,
  /** Well-formed, but not a pair the market source lists; `suggestions` names close ones. */
  unknown_symbol: 400,
  unauthorized: 401,
  token_missing: 401,
  token_malformed: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  token_invalid_signature: 401,
  token_invalid_claims: 401,
  token_unsupported_alg: 401,
  token_unknown_key: 401,
  invalid_credentials: 400,
  invalid_grant: 400,
  invalid_apikey: 401,
  user_already_exists: 422,
  weak_password: 422,
  forbidden: 403,
  insufficient_credits: 402,
  not_found: 404,
  conflict: 409,
  /** The instance running this answer died before it finished (chat:resume); what was delivered is all there is. */
  answer_lost: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  method_not_allowed: 405,
  webhook_signature_missing: 401,
  webhook_signature_invalid: 401,
  webhook_timestamp_invalid: 400,
  webhook_timestamp_expired: 401,
  provider_unavailable: 503,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra headers the HTTP layer should send (e.g. Retry-After). */
  readonly headers: Record<string, string>;
  /** Public, machine-readable extras sent beside code and message (e.g. `suggestions`). */
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ErrorCodes[code];
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; [extra: string]: unknown };
}

/** Turns anything thrown into the public error shape; unknown errors become `internal`. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof AppError) {
    return { status: err.status, body: { error: { ...err.details, code: err.code, message: err.message } }, headers: err.headers };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'Internal error' } }, headers: {} };
}
