import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import { symbolSchema } from '../../common/symbols';
import { describeEdge, type AccountFacts, type MarketEntry } from '../context';
import { loadMarketExtras, loadMarketSnapshots } from '../market/market.queries';
import { createAnswerPath } from './answer-path.queries';
import type { MarketContextCache } from './market-context';
import type { ToolExecutors } from '../router';
import { symbolQueries } from '../symbols/symbols.queries';
import type { VerifiedUser } from '../auth/token-verifier';

export interface GatheredContext {
  symbols: Array<{ symbol: string; timeframe: string }>;
  market: MarketEntry[] | 'unavailable';
  /** Balance and recent spend; null when the ledger could not be read (the answer says so). */
  account: AccountFacts | null;
  /** The market context's fingerprint (same data, same fingerprint on every instance); absent when it is unavailable. */
  fingerprint?: string;
}

/**
 * The facts an answer is grounded in: the user's watchlist, balance and
 * recent spend (chat database: the answer path's own read, answer_facts, for
 * the verified user) and per pair the latest
 * signal, risk, win rates, 24 h change and nearest liquidation clusters
 * (trading database). A trading database that is down yields 'unavailable' —
 * the answer still comes, and says so. With `marketContext`, the market part
 * comes from that per-candle cache (see market-context.ts).
 */
export async function gatherContext(
  deps: { chatDb: Db; tradingDb: Db; log: Logger; marketContext?: MarketContextCache },
  user: VerifiedUser,
): Promise<GatheredContext> {
  const { symbols, account } = await createAnswerPath({ chatDb: deps.chatDb }).facts(user.userId);
  return { symbols, account, ...(await marketFor(deps, symbols, user.userId)) };
}

/**
 * The market part of the context for a watchlist: from the per-candle cache
 * when there is one (no database), else read. A trading database that is
 * down yields 'unavailable'.
 */
export async function marketFor(
  deps: { tradingDb: Db; log: Logger; marketContext?: MarketContextCache },
  symbols: GatheredContext['symbols'],
  userId: string,
): Promise<Pick<GatheredContext, 'market' | 'fingerprint'>> {
  try {
    if (deps.marketContext) {
      const { entries, fingerprint } = await deps.marketContext.contextFor(symbols);
      return { market: entries, fingerprint };
    }
    const [snapshots, extras] = await Promise.all([loadMarketSnapshots(deps.tradingDb, symbols), loadMarketExtras(deps.tradingDb, symbols)]);
    const market = snapshots.map<MarketEntry>((s) => {
      const more = extras.find((e) => e.symbol === s.symbol && e.timeframe === s.timeframe);
      return { ...s, change24hPct: more?.change24hPct ?? null, clusters: more?.clusters ?? [] };
    });
    return { market };
  } catch (err) {
    deps.log.warn({ err: (err as Error).message, userId }, 'chat: trading database unavailable; answering without market data');
    return { market: 'unavailable' };
  }
}

/** Tools the model may call, executed server-side with the user's rights. */
export function createToolExecutors(deps: { chatDb: Db; tradingDb: Db }, user: VerifiedUser): ToolExecutors {
  const watched = () => deps.chatDb.asUser(user.claims, symbolQueries.list);
  const snapshotFor = async (raw: string) => {
    const symbol = symbolSchema.parse(raw);
    const pairs = (await watched()).filter((s) => s.symbol === symbol);
    // Not on the watchlist: still answer for the default timeframe; the data is public market analysis.
    return loadMarketSnapshots(deps.tradingDb, pairs.length ? pairs : [{ symbol, timeframe: '1h' }]);
  };
  return {
    list_my_symbols: async () => (await watched()).map(({ symbol, timeframe }) => ({ symbol, timeframe })),
    get_signal: async ({ symbol }) =>
      (await snapshotFor(symbol)).map((s) => ({ symbol: s.symbol, timeframe: s.timeframe, signal: s.signal, edge: describeEdge(s), risk: s.risk, lastPrice: s.lastPrice })),
    // The track record per window against buy-and-hold and the coin flip; the equity curve is for charts, not for the model.
    get_win_rate: async ({ symbol }) =>
      (await snapshotFor(symbol)).map((s) => ({
        symbol: s.symbol,
        timeframe: s.timeframe,
        edge: describeEdge(s),
        trackRecord: s.trackRecord.map(({ equity: _equity, ...window }) => window),
      })),
  };
}
