/**
 * The offline analyst's answer: deterministic text built only from the
 * gathered context (watchlist, latest signal / risk / win rate per pair).
 * It never guesses: missing or unavailable data is said to be missing.
 */
import { describeRisk, describeSignal, describeWinRate, findMentionedSymbols, sortEntries, type MarketEntry, type PromptInput } from '../context';

/** At most this many symbols, and timeframes per symbol, are described in one answer. */
const MAX_SYMBOLS = 3;
const MAX_TIMEFRAMES = 3;
const FOOTER = 'Offline analyst mode, not financial advice.';

export function composeAnalystAnswer(input: PromptInput): string {
  const mentioned = findMentionedSymbols(input.userMessage, input.symbols).slice(0, MAX_SYMBOLS);
  const followed = new Set(input.symbols.map((s) => s.symbol));
  const paragraphs: string[] = [];

  if (input.market === 'unavailable') {
    paragraphs.push(
      mentioned.length > 0
        ? `I can't reach the market data right now, so I can't give you the latest signal for ${mentioned.join(', ')}. Please try again in a minute.`
        : "Market data is temporarily unavailable, so I can't report signals right now. Please try again in a minute.",
    );
    if (mentioned.length === 0 && input.symbols.length > 0) paragraphs.push(`You follow ${listWatchlist(input.symbols)}.`);
  } else if (mentioned.length > 0) {
    const market = input.market;
    for (const symbol of mentioned) paragraphs.push(describeSymbol(symbol, market.filter((e) => e.symbol === symbol), followed.has(symbol), input.now));
  } else if (input.symbols.length === 0) {
    paragraphs.push(
      "You don't follow any symbols yet. Add a pair such as BTC/USDT to your watchlist and I'll track its signals, risk and win rate for you.",
    );
  } else {
    const market = input.market;
    const lines = sortEntries(input.symbols).map((s) => {
      const e = market.find((m) => m.symbol === s.symbol && m.timeframe === s.timeframe);
      return `${s.symbol} (${s.timeframe}): ${e ? summary(e) : 'no data yet'}.`;
    });
    paragraphs.push(`Here is your watchlist.\n${lines.join('\n')}`);
  }
  paragraphs.push(FOOTER);
  return paragraphs.join('\n\n');
}

function describeSymbol(symbol: string, entries: MarketEntry[], isFollowed: boolean, now: Date): string {
  if (entries.length === 0) {
    return isFollowed
      ? `I have no data for ${symbol} yet: the pipeline has not produced a signal for it. Check back after the next candle closes.`
      : `${symbol} is not on your watchlist, so I have no signal, risk or win rate for it. Add it to your watchlist to start tracking it.`;
  }
  return sortEntries(entries)
    .slice(0, MAX_TIMEFRAMES)
    .map((e) => {
      const sentences = [
        e.signal ? `${symbol} (${e.timeframe}): the latest signal is ${describeSignal(e.signal, now)}.` : `${symbol} (${e.timeframe}): there is no signal yet.`,
      ];
      if (e.risk) {
        sentences.push(`Risk: ${describeRisk(e.risk)}.`);
        if (e.risk.regime === 'high' || e.risk.regime === 'extreme') sentences.push('Volatility is elevated, so size positions carefully.');
      } else {
        sentences.push('Risk metrics are not computed yet.');
      }
      sentences.push(e.winRate30d ? `30-day win rate: ${describeWinRate(e.winRate30d)}.` : 'There is no 30-day win rate yet.');
      return sentences.join(' ');
    })
    .join('\n');
}

function summary(e: MarketEntry): string {
  const parts = [e.signal ? `${e.signal.direction.toUpperCase()}, score ${Math.round(e.signal.score)}/100` : 'no signal yet'];
  if (e.risk) parts.push(`${e.risk.regime} volatility`);
  if (e.winRate30d && e.winRate30d.winPct !== null && e.winRate30d.trades > 0) {
    parts.push(`30-day win rate ${e.winRate30d.winPct.toFixed(1)}% over ${e.winRate30d.trades} trades`);
  }
  return parts.join(', ');
}

function listWatchlist(symbols: PromptInput['symbols']): string {
  return sortEntries(symbols)
    .map((s) => `${s.symbol} (${s.timeframe})`)
    .join(', ');
}
