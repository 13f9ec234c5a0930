/**
 * The offline analyst's answer: deterministic text that answers the question
 * asked (see local-analyst.intents.ts) from the gathered context only —
 * watchlist, per pair the latest signal with its levels and edge, risk, win
 * rates, price and 24 h change, liquidation clusters, doubling guardrails, and
 * the user's balance and spend. Missing data is said to be missing.
 */
import { scoreInWords } from '../../common/edge';
import { formatSignedPct } from '../../common/format';
import { describeWinRate, formatAge, formatPct, sortEntries, type MarketEntry, type PromptInput } from '../context';
import {
  clustersSentence, doublingSentence, DOUBLING_RULES, edgeSentence, priceSentence, reasonsSentence, rewardRisk, riskSentence, signalSentence, trackRecordSentence,
} from './local-analyst.facts';
import { resolveQuestion, type Intent } from './local-analyst.intents';

/** At most this many symbols, and timeframes per symbol, are described in one answer. */
const MAX_SYMBOLS = 3;
const MAX_TIMEFRAMES = 3;
const FOOTER = 'Offline analyst mode, not financial advice.';

const HELP =
  'I answer from the data Zmarty computes for your pairs. Ask me for a price and its 24-hour change ("what is the BTC price?"), the latest signal ' +
  'with its levels and whether the strategy has an edge ("signal on ETH"), why a signal was given ("why?"), the liquidation clusters near the price, ' +
  'the win rate and track record, whether the doubling rules allow adding to a position now, a comparison of two pairs ("compare BTC and ETH"), ' +
  'your credit balance and recent spend, or your watchlist. Follow-ups such as "and ETH?" continue the last question.';

export function composeAnalystAnswer(input: PromptInput): string {
  const q = resolveQuestion(input.userMessage, input.history ?? [], input.symbols);
  const body = answerFor(q.intent, q.symbols.slice(0, MAX_SYMBOLS), q.timeframe, input);
  return [...body, FOOTER].join('\n\n');
}

function answerFor(intent: Intent, symbols: string[], timeframe: string | null, input: PromptInput): string[] {
  if (intent === 'help') return [HELP];
  if (intent === 'balance') return [balanceAnswer(input)];
  if (intent === 'watchlist') return [watchlistAnswer(input)];
  if (input.market === 'unavailable') {
    return [
      symbols.length > 0
        ? `I can't reach the market data right now, so I can't answer about ${symbols.join(', ')}. Please try again in a minute.`
        : "Market data is temporarily unavailable, so I can't report prices or signals right now. Please try again in a minute.",
      ...(intent === 'doubling' ? [DOUBLING_RULES] : []),
    ];
  }
  const market = input.market;
  const followed = new Set(input.symbols.map((s) => s.symbol));
  // Nothing asked about nothing in particular ("hello", "how are my coins doing"): the watchlist at a glance.
  if (intent === 'overview' && symbols.length === 0) return [watchlistAnswer(input), 'Ask me about a pair for its price, signal, clusters or track record, or say "help".'];
  // No pair named or inherited: the question is about the whole watchlist.
  const targets = symbols.length > 0 ? symbols : [...new Set(sortEntries(input.symbols).map((s) => s.symbol))].slice(0, MAX_SYMBOLS);
  if (targets.length === 0) {
    const rules = intent === 'doubling' ? [DOUBLING_RULES] : [];
    return [...rules, "You don't follow any pairs yet. Add one such as BTC/USDT to your watchlist and I'll track its price, signals, risk and win rate."];
  }

  const entriesOf = (symbol: string) => {
    const all = sortEntries(market.filter((e) => e.symbol === symbol));
    const named = timeframe ? all.filter((e) => e.timeframe === timeframe) : [];
    return (named.length > 0 ? named : all).slice(0, MAX_TIMEFRAMES);
  };
  const missing = (symbol: string) =>
    followed.has(symbol)
      ? `I have no data for ${symbol} yet: the pipeline has not stored anything for it. Check back after the next candle closes.`
      : `${symbol} is not on your watchlist, so I have no data for it. Add it to your watchlist to start tracking it.`;

  if (intent === 'compare') {
    if (targets.length < 2) return [`To compare I need two pairs; name them, e.g. "compare BTC and ETH".`];
    const [a, b] = [entriesOf(targets[0]!)[0], entriesOf(targets[1]!)[0]];
    if (!a || !b) return [`${a ? missing(targets[1]!) : missing(targets[0]!)} So I can't compare ${targets[0]} with ${targets[1]} yet.`];
    return compareAnswer(a, b);
  }

  const paragraphs: string[] = [];
  if (intent === 'doubling') paragraphs.push(DOUBLING_RULES);
  for (const symbol of targets) {
    const entries = entriesOf(symbol);
    if (entries.length === 0) {
      paragraphs.push(missing(symbol));
      continue;
    }
    const primary = entries[0]!;
    switch (intent) {
      case 'price':
        paragraphs.push(priceSentence(primary, input.now));
        break;
      case 'liquidations':
        paragraphs.push(clustersSentence(primary));
        break;
      case 'track_record':
        paragraphs.push(entries.map((e) => `${trackRecordSentence(e)} ${edgeSentence(e)}`).join('\n'));
        break;
      case 'edge':
        paragraphs.push(entries.map((e) => `${signalSentence(e, input.now)} ${edgeSentence(e)}`).join('\n'));
        break;
      case 'why':
        paragraphs.push(entries.map((e) => `${reasonsSentence(e)} ${riskSentence(e)} ${edgeSentence(e)}`).join('\n'));
        break;
      case 'risk':
        paragraphs.push(entries.map(riskSentence).join('\n'));
        break;
      case 'doubling':
        paragraphs.push(entries.map((e) => `${doublingSentence(e)}${e.signal && e.signal.direction !== 'flat' ? ` ${edgeSentence(e)}` : ''}`).join('\n'));
        break;
      case 'signal':
        paragraphs.push(entries.map((e) => `${signalSentence(e, input.now)} ${edgeSentence(e)} ${riskSentence(e)}`).join('\n'));
        break;
      default:
        paragraphs.push(
          [priceSentence(primary, input.now), ...entries.map((e) => `${signalSentence(e, input.now)} ${edgeSentence(e)} ${riskSentence(e)} ${trackRecordSentence(e)}`)].join('\n'),
        );
    }
  }
  return paragraphs;
}

function compareAnswer(a: MarketEntry, b: MarketEntry): string[] {
  const line = (e: MarketEntry) => {
    const parts = [e.signal ? `${e.signal.direction.toUpperCase()}, ${scoreInWords(e.signal.score)}` : 'no signal yet'];
    const rr = rewardRisk(e);
    parts.push(rr === null ? 'reward/risk not available' : `reward/risk ${rr.toFixed(2)}`);
    parts.push(e.risk ? `${e.risk.regime} volatility (realized vol ${formatPct(e.risk.realizedVol * 100)})` : 'volatility not computed yet');
    parts.push(e.winRate30d ? `30-day win rate ${describeWinRate(e.winRate30d)}` : 'no 30-day win rate yet');
    parts.push(e.edge ? `edge: ${e.edge.verdict} over ${e.edge.window}` : 'edge not measured');
    if (e.change24hPct !== undefined && e.change24hPct !== null) parts.push(`24-hour change ${formatSignedPct(e.change24hPct)}`);
    return `${e.symbol} ${e.timeframe}: ${parts.join('; ')}.`;
  };
  const verdicts: string[] = [];
  if (a.signal && b.signal) {
    const same = a.signal.direction === b.signal.direction;
    verdicts.push(same ? `Both point the same way (${a.signal.direction.toUpperCase()}).` : `They point different ways: ${a.symbol} ${a.signal.direction.toUpperCase()}, ${b.symbol} ${b.signal.direction.toUpperCase()}.`);
    const [sa, sb] = [Math.round(a.signal.score), Math.round(b.signal.score)];
    if (sa !== sb) verdicts.push(`${sa > sb ? a.symbol : b.symbol} has the stronger signal (score ${Math.max(sa, sb)} vs ${Math.min(sa, sb)}).`);
    else verdicts.push(`Their scores are equal (${sa}).`);
  }
  const [ra, rb] = [rewardRisk(a), rewardRisk(b)];
  if (ra !== null && rb !== null && ra.toFixed(2) !== rb.toFixed(2)) verdicts.push(`${ra > rb ? a.symbol : b.symbol} offers the better reward/risk (${Math.max(ra, rb).toFixed(2)} vs ${Math.min(ra, rb).toFixed(2)}).`);
  if (a.risk && b.risk && a.risk.realizedVol !== b.risk.realizedVol) {
    verdicts.push(`${a.risk.realizedVol < b.risk.realizedVol ? a.symbol : b.symbol} is the calmer of the two.`);
  }
  return [`Comparing ${a.symbol} and ${b.symbol}:\n${line(a)}\n${line(b)}`, ...(verdicts.length > 0 ? [verdicts.join(' ')] : []), `${edgeSentence(a)} ${edgeSentence(b)}`];
}

function balanceAnswer(input: PromptInput): string {
  const account = input.account;
  if (!account) return "I couldn't read your credit balance just now; the credits panel at the top shows it.";
  const head = `Your balance is ${account.balance.toLocaleString('en-US')} credits.`;
  if (account.answers24h === 0) return `${head} You have spent nothing on answers in the last 24 hours.`;
  const recent = account.recent
    .map((r) => `${r.credits} credit${r.credits === 1 ? '' : 's'} ${formatAge(r.at, input.now)}${r.provider ? ` (${r.provider}${r.voice ? ', with voice' : ''})` : ''}`)
    .join('; ');
  return `${head} In the last 24 hours ${account.answers24h} answer${account.answers24h === 1 ? '' : 's'} cost ${account.spent24h} credits. Most recent: ${recent}.`;
}

function watchlistAnswer(input: PromptInput): string {
  if (input.symbols.length === 0) return "You don't follow any pairs yet. Add one such as BTC/USDT to your watchlist and I'll track it for you.";
  const market = input.market;
  const lines = sortEntries(input.symbols).map((s) => {
    const e = market === 'unavailable' ? undefined : market.find((m) => m.symbol === s.symbol && m.timeframe === s.timeframe);
    if (!e) return `${s.symbol} (${s.timeframe}): ${market === 'unavailable' ? 'market data unavailable right now' : 'no data yet'}.`;
    const parts = [e.signal ? `${e.signal.direction.toUpperCase()}, ${scoreInWords(e.signal.score)}` : 'no signal yet'];
    if (e.risk) parts.push(`${e.risk.regime} volatility`);
    if (e.winRate30d && e.winRate30d.winPct !== null && e.winRate30d.trades > 0) parts.push(`30-day win rate ${e.winRate30d.winPct.toFixed(1)}% over ${e.winRate30d.trades} trades`);
    return `${s.symbol} (${s.timeframe}): ${parts.join(', ')}.`;
  });
  return `You follow ${input.symbols.length} pair${input.symbols.length === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}
