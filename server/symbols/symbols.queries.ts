import type { Queryable } from '../../common/db';
import { AppError } from '../../common/errors';

/** The most pairs one user may watch; the database enforces it (sql/chat/0022). */
const MAX_WATCHED_PAIRS = 50;

export interface UserSymbol {
  id: number;
  symbol: string;
  timeframe: string;
  createdAt: string;
}

const columns = `id, symbol, timeframe, to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "createdAt"`;

/** Every function runs inside db.asUser: RLS limits each statement to the caller's own rows. */
export const symbolQueries = {
  list: async (q: Queryable) =>
    (await q.query<UserSymbol>(`select ${columns} from public.user_symbols order by created_at, id`)).rows,

  add: async (q: Queryable, input: { symbol: string; timeframe: string }) => {
    try {
      return (
        await q.query<UserSymbol>(
          `insert into public.user_symbols (symbol, timeframe) values ($1, $2)
           on conflict (user_id, symbol, timeframe) do nothing returning ${columns}`,
          [input.symbol, input.timeframe],
        )
      ).rows[0];
    } catch (err) {
      // The database's cap (sql/chat/0022), which holds for a Data API insert too.
      if ((err as { constraint?: string }).constraint === 'user_symbols_cap') {
        throw new AppError('conflict', `Your watchlist is full: at most ${MAX_WATCHED_PAIRS} pairs. Remove one to add another.`);
      }
      throw err;
    }
  },

  remove: async (q: Queryable, id: number) => ((await q.query('delete from public.user_symbols where id = $1', [id])).rowCount ?? 0) > 0,
};
