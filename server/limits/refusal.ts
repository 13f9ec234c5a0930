import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../common/errors';

/**
 * Consumes one point; a refusal becomes a 429 with Retry-After ("Too many
 * <what>; try again in N s"), a store failure is rethrown as is.
 */
export async function consumeOrRefuse(
  limiter: RateLimiterAbstract,
  key: string,
  options: { customDuration?: number; what?: string } = {},
): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key, 1, options.customDuration === undefined ? undefined : { customDuration: options.customDuration });
  } catch (res) {
    throw refusal(res, options.what);
  }
}

/** rate-limiter-flexible rejects with a RateLimiterRes when refusing and with an Error when its store failed. */
export function refusal(res: unknown, what = 'attempts'): unknown {
  if (!(res instanceof RateLimiterRes)) return res;
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new AppError('rate_limited', `Too many ${what}; try again in ${seconds} s`, { headers: { 'Retry-After': String(seconds) } });
}
