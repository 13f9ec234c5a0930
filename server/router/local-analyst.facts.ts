/**
 * Sentences the offline analyst builds from one pair's facts. Each says what
 * the data says and, when a fact is missing, that it is missing — never a
 * number that is not in the data.
 */
import { formatSignedPct } from '../../common/format';
import { describeRisk, describeSignal, describeWinRate, formatAge, formatPct, formatPrice, topReasons, type MarketEntry } from '../context';

const label = (e: MarketEntry) => `${e.symbol} ${e.timeframe}`;
// The same signed percent as the cards (common/format.ts).
const signed = formatSignedPct;

export function priceSentence(e: MarketEntry, now: Date): string {
  if (e.lastPrice === undefined || e.lastPrice === null) return `I have no price for ${e.symbol} yet: no ${e.timeframe} candles are stored for it.`;
  const change =
    e.change24hPct === undefined || e.change24hPct === null
      ? "I don't have the price of 24 hours earlier, so I can't give the 24-hour change."
      : `That is ${signed(e.change24hPct)} over 24 hours.`;
  const asOf = e.signal ? ` (as of the ${e.timeframe} candle ${formatAge(e.signal.candleTime, now)})` : '';
  return `${e.symbol} last closed at ${formatPrice(e.lastPrice)}${asOf}. ${change}`;
}

/** reward ÷ risk from the signal's levels, or null when a level is missing. */
export function rewardRisk(e: MarketEntry): number | null {
  const s = e.signal;
  if (!s || s.direction === 'flat' || s.stop === null || s.takeProfit === null) return null;
  const risk = Math.abs(s.entry - s.stop);
  return risk > 0 ? Math.abs(s.takeProfit - s.entry) / risk : null;
}

export function signalSentence(e: MarketEntry, now: Date): string {
  if (!e.signal) return `${label(e)}: there is no signal yet.`;
  const rr = rewardRisk(e);
  return `${label(e)}: the latest signal is ${describeSignal(e.signal, now)}${rr === null ? '' : `, reward/risk ${rr.toFixed(2)}`}.`;
}

/** The strategy's measured edge, stated plainly whenever a signal is mentioned. */
export function edgeSentence(e: MarketEntry): string {
  const edge = e.edge;
  if (!edge) return `I have no measured edge for this strategy on ${label(e)}, so treat its signals as unproven.`;
  const detail = `expectancy ${signed(edge.expectancyPct)} per trade after fees against a coin-flip median of ${signed(edge.coinFlipMedianPct)}, percentile ${Math.round(edge.percentile)} of the coin flips, ${edge.trades} trades`;
  const head =
    edge.verdict === 'positive'
      ? `On ${label(e)} this strategy has beaten chance over ${edge.window}`
      : edge.verdict === 'negative'
        ? `On ${label(e)} this strategy has done worse than chance over ${edge.window}`
        : `On ${label(e)} this strategy has not beaten chance over ${edge.window}`;
  return `${head} (${detail}).`;
}

export function reasonsSentence(e: MarketEntry): string {
  if (!e.signal) return `There is no signal on ${label(e)} to explain yet.`;
  const reasons = topReasons(e.signal.reasons, 4);
  const what = `The ${e.signal.direction.toUpperCase()} on ${label(e)}`;
  return reasons.length > 0 ? `${what} rests on: ${reasons.join('; ')}.` : `${what} was stored without its reasons, so I can't say what drove it.`;
}

export function riskSentence(e: MarketEntry): string {
  if (!e.risk) return `Risk metrics for ${label(e)} are not computed yet.`;
  const caution = e.risk.regime === 'high' || e.risk.regime === 'extreme' ? ' Volatility is elevated, so size positions carefully.' : '';
  return `Risk on ${label(e)}: ${describeRisk(e.risk)}.${caution}`;
}

export function trackRecordSentence(e: MarketEntry): string {
  const month = e.winRate30d ? `over 30 days ${describeWinRate(e.winRate30d)}` : 'no 30-day win rate yet';
  const all = e.winRateAll ? `; all time ${describeWinRate(e.winRateAll)}` : '';
  return `Track record of the signals on ${label(e)}: ${month}${all}.`;
}

export function clustersSentence(e: MarketEntry): string {
  const clusters = e.clusters ?? [];
  if (clusters.length === 0) return `No liquidation clusters are stored for ${label(e)} yet.`;
  const price = e.lastPrice ?? null;
  const parts = clusters.slice(0, 4).map((c) => {
    const range = `${formatPrice(c.priceLow)}–${formatPrice(c.priceHigh)}`;
    let where = '';
    if (price !== null) {
      if (price >= c.priceLow && price <= c.priceHigh) where = ', around the current price';
      else {
        const edge = price < c.priceLow ? c.priceLow : c.priceHigh;
        where = `, ${formatPct((Math.abs(edge - price) / price) * 100, 2)} ${edge > price ? 'above' : 'below'} the price`;
      }
    }
    return `${c.side} liquidations at ${range} (strength ${c.strength.toFixed(2)}${where})`;
  });
  const source = clusters.every((c) => c.source === 'kingfisher') ? 'from KingFisher' : 'estimated from leverage tiers';
  const at = price === null ? '' : ` around the last price ${formatPrice(price)}`;
  return `Nearest liquidation clusters on ${e.symbol}${at} (${source}): ${parts.join('; ')}.`;
}

/** The pipeline's stored doubling decision for the latest signal (see pipeline/signals/guardrails.ts). */
interface DoublingDecision {
  recommended: boolean;
  blockedBy: string | null;
  detail: string;
}

const GUARDRAIL_NAMES: Record<string, string> = {
  not_same_direction: 'the new signal is not on the same side as the open recommendation',
  score_delta: 'the score has not risen by enough',
  volatility: 'volatility is too high',
  cooldown: 'the cooldown since the open recommendation has not passed',
  max_position: 'the doubled position would exceed the position cap',
};

export const DOUBLING_RULES =
  'Doubling is recommended only when every guardrail passes, checked in this order: the new signal is on the same side as the open recommendation; ' +
  'its score beats the previous one by more than the configured margin; realised volatility is below the limit; the cooldown since the open ' +
  'recommendation has passed; and the doubled position stays within the position cap.';

function doublingOf(value: unknown): DoublingDecision | null {
  if (!value || typeof value !== 'object') return null;
  const d = value as Record<string, unknown>;
  if (typeof d.recommended !== 'boolean' || typeof d.detail !== 'string') return null;
  return { recommended: d.recommended, blockedBy: typeof d.blockedBy === 'string' ? d.blockedBy : null, detail: d.detail };
}

export function doublingSentence(e: MarketEntry): string {
  if (!e.signal) return `${label(e)}: there is no signal yet, so there is nothing to double.`;
  if (e.signal.direction === 'flat') return `${label(e)}: the latest signal is FLAT, so doubling does not apply.`;
  const d = doublingOf(e.signal.doubling);
  if (!d) return `${label(e)}: the guardrails were not evaluated for the latest signal (there was no open recommendation before it), so there is nothing to double yet.`;
  if (d.recommended) return `${label(e)}: doubling is allowed now — every guardrail passes (${d.detail}).`;
  const why = d.blockedBy ? GUARDRAIL_NAMES[d.blockedBy] ?? d.blockedBy : 'no open recommendation to double';
  return `${label(e)}: doubling is not allowed now because ${why} (${d.detail}).`;
}
