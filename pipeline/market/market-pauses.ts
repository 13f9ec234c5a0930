/**
 * A provider that answered "too many requests" (HTTP 429, or Binance's 418:
 * banned for ignoring 429s) is left alone by every worker until the time it
 * named. The pause lives in the trading database (sql/trading/0008): one kept
 * in a process's memory would let the other workers go on calling, which is
 * how a 429 becomes a ban. A process that is told stops at once; the others
 * read a provider's pause at most once per `refreshMs` when they call it, so
 * they stop within that long (requests already sent still land). Times are
 * the database's clock, so workers on skewed clocks agree on the end.
 */
import type { Queryable } from '../../common/db';
import { AppError } from '../../common/errors';
import { throttleOf } from './http';
import type { MarketLog } from './validate-candles';

export interface MarketPausesOptions {
  sql: Queryable;
  log?: MarketLog;
  /** How long a provider is left alone when its 429 named no Retry-After. */
  defaultPauseMs?: number;
  /** How often a process re-reads a provider's pause from the database. */
  refreshMs?: number;
}

export interface MarketPauses {
  /**
   * Runs `call` unless `provider` is paused. A paused provider, or a call it
   * answers with a throttle, throws an error `pausedUntilOf` reads the end from.
   */
  around<T>(provider: string, call: () => Promise<T>): Promise<T>;
}

interface Known {
  /** Epoch ms (this process's clock) the pause ends at; 0 when none. */
  until: number;
  readAt: number;
  reading?: Promise<void>;
}

export function createMarketPauses(options: MarketPausesOptions): MarketPauses {
  const refreshMs = options.refreshMs ?? 1000;
  const defaultPauseMs = options.defaultPauseMs ?? 60_000;
  const known = new Map<string, Known>();

  async function read(provider: string, entry: Known): Promise<void> {
    try {
      const { rows } = await options.sql.query<{ remaining_ms: number }>(
        `select extract(epoch from until - now())::float8 * 1000 as remaining_ms from public.market_pauses where source = $1`,
        [provider],
      );
      const remaining = rows[0]?.remaining_ms ?? 0;
      if (remaining > 0) entry.until = Math.max(entry.until, Date.now() + remaining);
    } catch (err) {
      // Unreadable pauses must not stop the market: the call itself will fail if the database is down.
      options.log?.warn({ provider, err: err instanceof Error ? err.message : String(err) }, 'market pause unreadable');
    } finally {
      entry.readAt = Date.now();
    }
  }

  async function pause(provider: string, entry: Known, waitMs: number, reason: string): Promise<void> {
    entry.until = Math.max(entry.until, Date.now() + waitMs);
    try {
      const { rows } = await options.sql.query<{ remaining_ms: number }>(
        `insert into public.market_pauses as p (source, until, reason)
         values ($1, now() + $2::float8 * interval '1 millisecond', $3)
         on conflict (source) do update
           set until = greatest(p.until, excluded.until),
               reason = case when excluded.until > p.until then excluded.reason else p.reason end
         returning extract(epoch from until - now())::float8 * 1000 as remaining_ms`,
        [provider, waitMs, reason],
      );
      entry.until = Math.max(entry.until, Date.now() + rows[0]!.remaining_ms);
      options.log?.warn({ provider, pausedForMs: Math.round(rows[0]!.remaining_ms), reason }, 'market provider throttled us: every worker pauses it');
    } catch (err) {
      options.log?.warn({ provider, err: err instanceof Error ? err.message : String(err) }, 'market pause not shared');
    }
  }

  return {
    async around(provider, call) {
      let entry = known.get(provider);
      if (!entry) known.set(provider, (entry = { until: 0, readAt: Number.NEGATIVE_INFINITY }));
      if (Date.now() - entry.readAt >= refreshMs) {
        const e = entry;
        await (e.reading ??= read(provider, e).finally(() => (e.reading = undefined)));
      }
      if (entry.until > Date.now()) throw pausedError(provider, entry.until);
      try {
        return await call();
      } catch (err) {
        const throttled = throttleOf(err);
        if (!throttled) throw err;
        await pause(provider, entry, throttled.retryAfterMs ?? defaultPauseMs, err instanceof Error ? err.message : String(err));
        throw pausedError(provider, entry.until, err);
      }
    },
  };
}

function pausedError(provider: string, until: number, cause?: unknown): AppError {
  const why = cause instanceof Error ? `${cause.message}; ` : '';
  return new AppError('provider_unavailable', `${why}${provider} is paused for every worker until ${new Date(until).toISOString()}`, {
    cause,
    details: { pausedUntil: until },
  });
}

/** When a paused provider may be called again (epoch ms), from an error `around` threw; null for any other error. */
export function pausedUntilOf(err: unknown): number | null {
  if (!(err instanceof AppError)) return null;
  const until = err.details.pausedUntil;
  return typeof until === 'number' ? until : null;
}
