import type { Queryable } from '../../common/db';
import type { SignalOutcome, WatchKey, WinRateRollup } from '../domain';

export interface EvaluableSignal {
  id: number;
  direction: 'long' | 'short';
  entry: number;
  stop: number;
  takeProfit: number;
  candleTime: number;
}

/** signal_outcomes and win_rate. Outcomes are written once per signal; rollups are upserts. */
export const winRateStore = {
  /**
   * Long/short signals without an outcome and with at least one candle after
   * them (`before` = the newest stored candle), oldest first. Signals without
   * a stop or take-profit cannot be evaluated and are not returned.
   */
  unevaluated: async (q: Queryable, key: WatchKey, before: number, limit: number): Promise<EvaluableSignal[]> =>
    (
      await q.query<{ id: number; direction: 'long' | 'short'; entry: number; stop: number; take_profit: number; candle_time: Date }>(
        `select s.id, s.direction, s.entry, s.stop, s.take_profit, s.candle_time from public.signals s
         where s.symbol = $1 and s.timeframe = $2 and s.direction <> 'flat' and s.candle_time < $3
           and s.stop is not null and s.take_profit is not null
           and not exists (select 1 from public.signal_outcomes o where o.signal_id = s.id)
         order by s.candle_time limit $4`,
        [key.symbol, key.timeframe, new Date(before), limit],
      )
    ).rows.map((r) => ({ id: r.id, direction: r.direction, entry: r.entry, stop: r.stop, takeProfit: r.take_profit, candleTime: r.candle_time.getTime() })),

  /** Stores outcomes; an outcome already stored (a retried job) is kept as it was. Returns how many were new. */
  insertOutcomes: async (q: Queryable, outcomes: ReadonlyArray<SignalOutcome & { signalId: number }>): Promise<number> => {
    if (!outcomes.length) return 0;
    const result = await q.query(
      `insert into public.signal_outcomes (signal_id, outcome, exit_reason, return_pct, exit_time)
       select u.id, u.outcome, u.reason, u.ret, timestamptz 'epoch' + u.t * interval '1 millisecond'
       from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[]) as u(id, outcome, reason, ret, t)
       on conflict (signal_id) do nothing`,
      [
        outcomes.map((o) => o.signalId),
        outcomes.map((o) => o.outcome),
        outcomes.map((o) => o.exitReason),
        outcomes.map((o) => o.returnPct),
        outcomes.map((o) => o.exitTime),
      ],
    );
    return result.rowCount ?? 0;
  },

  /** Every stored outcome of the watcher, with its signal's candle time (what the windows filter on). */
  outcomes: async (q: Queryable, key: WatchKey): Promise<Array<SignalOutcome & { candleTime: number }>> =>
    (
      await q.query<{ outcome: 'win' | 'loss'; exit_reason: SignalOutcome['exitReason']; return_pct: number; exit_time: Date; candle_time: Date }>(
        `select o.outcome, o.exit_reason, o.return_pct, o.exit_time, s.candle_time
         from public.signal_outcomes o join public.signals s on s.id = o.signal_id
         where s.symbol = $1 and s.timeframe = $2 order by s.candle_time`,
        [key.symbol, key.timeframe],
      )
    ).rows.map((r) => ({
      outcome: r.outcome,
      exitReason: r.exit_reason,
      returnPct: r.return_pct,
      exitTime: r.exit_time.getTime(),
      candleTime: r.candle_time.getTime(),
    })),

  upsertRollup: async (q: Queryable, key: WatchKey, r: WinRateRollup): Promise<void> => {
    await q.query(
      `insert into public.win_rate (symbol, timeframe, window_name, trades, wins, losses, win_pct, avg_win_pct, avg_loss_pct,
         profit_factor, expectancy_pct, buy_hold_pct)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       on conflict (symbol, timeframe, window_name) do update set trades = excluded.trades, wins = excluded.wins,
         losses = excluded.losses, win_pct = excluded.win_pct, avg_win_pct = excluded.avg_win_pct,
         avg_loss_pct = excluded.avg_loss_pct, profit_factor = excluded.profit_factor,
         expectancy_pct = excluded.expectancy_pct, buy_hold_pct = excluded.buy_hold_pct, computed_at = now()`,
      [
        key.symbol,
        key.timeframe,
        r.window,
        r.trades,
        r.wins,
        r.losses,
        r.winPct,
        r.avgWinPct,
        r.avgLossPct,
        r.profitFactor,
        r.expectancyPct,
        r.buyHoldPct,
      ],
    );
  },
};
