/**
 * Whether to recommend doubling an open position when a new signal arrives.
 * Every guardrail must pass; they are checked in this order and the first
 * one that fails is reported:
 *   not_same_direction  the new signal repeats the open recommendation's side
 *   score_delta         new score > previous score + scoreDelta (conviction grew)
 *   volatility          realised vol (annualised) < maxRealizedVol
 *   cooldown            at least cooldownCandles candles since the open recommendation
 *                       (in candles, not hours, so it blocks on 4h and daily candles too)
 *   max_position        2 × the open position ≤ maxPositionPct (the doubled size fits).
 *                       The open position is what the previous signal left: a position
 *                       doubled once already (5 % → 10 %) cannot double again under the
 *                       default 10 % cap, so the cap binds.
 * With no open recommendation, or a flat new signal, doubling does not apply:
 * recommended = false and blockedBy = null.
 */
import type { Direction, DoublingDecision, RiskMetric } from '../domain';

export interface DoublingConfig {
  scoreDelta: number;
  maxRealizedVol: number;
  cooldownCandles: number;
  maxPositionPct: number;
}

export interface SignalSnapshot {
  direction: Direction;
  score: number;
  /** When the signal was issued (epoch ms); both sides must use the same clock. */
  createdAt: number;
}

export interface DoublingInput {
  previous: SignalSnapshot | null;
  next: SignalSnapshot;
  risk: RiskMetric;
  /** Size of the open position, % of equity (doubled when the previous signal recommended doubling). */
  positionPct: number;
  /** Length of one candle (ms): the cooldown counts candles. */
  timeframeMs: number;
  config: DoublingConfig;
}

export function evaluateDoubling(input: DoublingInput): DoublingDecision {
  const { previous, next, risk, positionPct, config } = input;
  const kept = { positionPct };
  if (!previous || previous.direction === 'flat') {
    return { recommended: false, blockedBy: null, detail: 'no open recommendation to double', ...kept };
  }
  if (next.direction === 'flat') {
    return { recommended: false, blockedBy: null, detail: 'the new signal is flat', ...kept };
  }
  if (next.direction !== previous.direction) {
    return { recommended: false, blockedBy: 'not_same_direction', detail: `new ${next.direction} signal against the open ${previous.direction}`, ...kept };
  }
  const needed = previous.score + config.scoreDelta;
  if (!(next.score > needed)) {
    return { recommended: false, blockedBy: 'score_delta', detail: `score ${next.score} is not above ${previous.score} + ${config.scoreDelta}`, ...kept };
  }
  if (!(risk.realizedVol < config.maxRealizedVol)) {
    return {
      recommended: false,
      blockedBy: 'volatility',
      detail: `realised volatility ${(risk.realizedVol * 100).toFixed(0)} % is not below the ${(config.maxRealizedVol * 100).toFixed(0)} % limit`,
      ...kept,
    };
  }
  const elapsed = Math.floor((next.createdAt - previous.createdAt) / input.timeframeMs);
  if (!(elapsed >= config.cooldownCandles)) {
    return {
      recommended: false,
      blockedBy: 'cooldown',
      detail: `${elapsed} candle${elapsed === 1 ? '' : 's'} since the open recommendation, cooldown is ${config.cooldownCandles}`,
      ...kept,
    };
  }
  const after = positionPct * 2;
  if (!(after <= config.maxPositionPct)) {
    return { recommended: false, blockedBy: 'max_position', detail: `doubling ${positionPct} % would make ${after} %, above the ${config.maxPositionPct} % cap`, ...kept };
  }
  return {
    recommended: true,
    blockedBy: null,
    detail: `same ${next.direction} with score ${previous.score} → ${next.score}, vol ${(risk.realizedVol * 100).toFixed(0)} %, position ${positionPct} % → ${after} %`,
    positionPct: after,
  };
}
