/**
 * The measured edge of the strategy on one pair and timeframe, as the
 * pipeline attaches it to every signal and the server and client show it.
 * Shared by every process (and the browser), so the words a trader reads are
 * written once: the verdict sentence, the window in plain words, the
 * score's meaning and its bands (docs/STRATEGY.md quotes SCORE_BANDS).
 */

export type EdgeVerdict = 'positive' | 'none' | 'negative';

/** The same shape as server/context/prompt.types.ts EdgeFacts (declared there for the prompt's readers). */
export interface EdgeFacts {
  verdict: EdgeVerdict;
  trades: number; // independent trades in the window
  expectancyPct: number; // strategy expectancy per trade after fees, %
  coinFlipMedianPct: number; // coin-flip median expectancy per trade, %
  percentile: number; // the strategy's percentile among the coin flips, 0-100
  window: string; // human words, e.g. 'the last 1,000 hours'
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * A span of time in the words a trader uses: hours up to 10 days ("the last
 * 1,000 hours" reads better than "41 days" on hourly candles), days beyond.
 */
export function windowWords(spanMs: number, timeframe: string): string {
  const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);
  const hourly = ['1m', '5m', '15m', '1h'].includes(timeframe);
  if (spanMs < 2 * HOUR) return `the last ${fmt(Math.max(1, Math.round(spanMs / 60_000)))} minutes`;
  if (hourly || spanMs < 10 * DAY) return `the last ${fmt(Math.round(spanMs / HOUR))} hours`;
  return `the last ${fmt(Math.round(spanMs / DAY))} days`;
}

const pct = (v: number, digits = 2) => `${v < 0 ? '−' : v > 0 ? '+' : ''}${Math.abs(v).toFixed(digits)} %`;

/** "62nd", "1st", "11th". */
export function ordinal(n: number): string {
  const r = Math.round(n);
  const tens = r % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][r % 10] ?? 'th');
  return `${r}${suffix}`;
}

/**
 * The edge in one plain sentence, e.g. "on ETH/USDT 1h this strategy has not
 * beaten chance over the last 1,000 hours (expectancy −0.04 % vs coin-flip
 * median −0.19 %, 62nd percentile, 382 trades)". Never a signal without it:
 * callers print `noEdgeSentence` when the edge is unknown.
 */
export function describeEdge(symbol: string, timeframe: string, edge: EdgeFacts): string {
  const claim =
    edge.verdict === 'positive'
      ? 'this strategy has beaten chance'
      : edge.verdict === 'negative'
        ? 'this strategy has done worse than chance'
        : 'this strategy has not beaten chance';
  const numbers = `expectancy ${pct(edge.expectancyPct)} vs coin-flip median ${pct(edge.coinFlipMedianPct)}, ${ordinal(edge.percentile)} percentile, ${edge.trades} trade${edge.trades === 1 ? '' : 's'}`;
  return `on ${symbol} ${timeframe} ${claim} over ${edge.window} (${numbers})`;
}

export function noEdgeSentence(symbol: string, timeframe: string): string {
  return `on ${symbol} ${timeframe} this strategy has no measured track record yet, so it has not shown an edge over chance`;
}

/**
 * The score's scale in one sentence (docs/STRATEGY.md, the card's tooltip and
 * the signal detail): the score is calibrated on the measured record
 * (pipeline/signals/score-calibration.ts), the share of past calls like this
 * one that closed in profit after fees; a flat decision scores 0.
 */
export const SCORE_MEANING = 'The score is how many of 100 past calls like this one closed in profit after fees; 0 means no call.';

/** The scale applied to one score: "Score 45: 45 of 100 past calls like this one closed in profit after fees." */
export function scoreMeaning(score: number): string {
  const s = Math.round(score);
  return s === 0 ? 'Score 0: no call, the indicators do not agree enough.' : `Score ${s}: ${s} of 100 past calls like this one closed in profit after fees.`;
}

/**
 * Score bands: the score in one word, on its win-rate scale. Fewer than half
 * of such calls won: weak; half to six in ten: moderate; more: strong. A
 * call's score is its calibrated win rate (1h calls measured 45, daily 59),
 * so "weak" is the honest word for most hourly calls.
 */
export const SCORE_BANDS = [
  { min: 0, label: 'no call' },
  { min: 1, label: 'weak' },
  { min: 50, label: 'moderate' },
  { min: 60, label: 'strong' },
] as const;

export type ScoreBand = (typeof SCORE_BANDS)[number]['label'];

export function scoreBand(score: number): ScoreBand {
  // On the rounded score, so "60 · strong" never reads "60 · moderate".
  const rounded = Math.round(score);
  let label: ScoreBand = SCORE_BANDS[0].label;
  for (const b of SCORE_BANDS) if (rounded >= b.min) label = b.label;
  return label;
}

/** "45 · weak". */
export function scoreWithMeaning(score: number): string {
  return `${Math.round(score)} · ${scoreBand(score)}`;
}

/** For sentences (the providers' prompt, the local analyst): "score 45 · weak, 45 of 100 past calls like it closed in profit after fees". */
export function scoreInWords(score: number): string {
  const s = Math.round(score);
  return s === 0 ? 'score 0 · no call' : `score ${scoreWithMeaning(s)}, ${s} of 100 past calls like it closed in profit after fees`;
}

/**
 * What a walk-forward measured, percentages throughout: one shape for the
 * pipeline's track record, the wire summary below and the backtest's `--json`,
 * which differ only in how they name their window and times.
 */
export interface TrackRecordFigures {
  /** Independent trades: one position per run of identical calls. */
  trades: number;
  winRate: number | null;
  /** 95 % Wilson interval of the win rate. */
  winRateLow: number | null;
  winRateHigh: number | null;
  profitFactor: number | null;
  /** Mean net return per trade after fees. */
  expectancyPct: number | null;
  maxDrawdownPct: number;
  totalReturnPct: number;
  buyHoldReturnPct: number;
  coinFlip: { medianExpectancyPct: number | null; p5: number | null; p95: number | null; percentile: number | null };
  edge: EdgeVerdict;
}

/** The coin-flip baseline of a stored window: its draws and fixed seed too (the same data gives the same baseline). */
export type SeededCoinFlip = TrackRecordFigures['coinFlip'] & { draws: number; seed: number };

/** One window of a pair's track record as the server serves it (sql/trading/0005 track_record). */
export interface TrackRecordSummary extends TrackRecordFigures {
  window: '7d' | '30d' | 'all';
  fromTime: string;
  toTime: string;
  candles: number;
  coinFlip: SeededCoinFlip;
  /** [open time ms, strategy equity, buy-and-hold equity], 1 = start. */
  equity: Array<[number, number, number]>;
}
