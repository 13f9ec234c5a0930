import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../common/errors';

/** Consumes one point; a refusal becomes a 429 with Retry-After, a store failure is rethrown as is. */
export async function consumeOrRefuse(limiter: RateLimiterAbstract, key: string, options?: { customDuration?: number }): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key, 1, options);
  } catch (res) {
    throw refusal(res);
  }
}

/** rate-limiter-flexible rejects with a RateLimiterRes when refusing and with an Error when its store failed. */
export function refusal(res: unknown): unknown {
  if (!(res instanceof RateLimiterRes)) return res;
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new AppError('rate_limited', `Too many attempts; try again in ${seconds} s`, { headers: { 'Retry-After': String(seconds) } });
}
