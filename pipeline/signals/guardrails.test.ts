import { describe, expect, it } from 'vitest';
import type { DoublingDecision, RiskMetric } from '../domain';
import { evaluateDoubling, type DoublingInput } from './guardrails';

const HOUR = 3_600_000;
const config = { scoreDelta: 10, maxRealizedVol: 1.2, cooldownCandles: 4, maxPositionPct: 10 };
const risk: RiskMetric = { realizedVol: 0.6, atrPct: 1.5, drawdownPct: 2, volumeZ: 0.3, regime: 'normal' };
const T = Date.UTC(2025, 0, 1);
const base: DoublingInput = {
  previous: { direction: 'long', score: 50, createdAt: T },
  next: { direction: 'long', score: 65, createdAt: T + 5 * HOUR },
  risk,
  positionPct: 5,
  timeframeMs: HOUR,
  config,
};
const withChanges = (over: {
  previous?: Partial<NonNullable<DoublingInput['previous']>> | null;
  next?: Partial<DoublingInput['next']>;
  risk?: Partial<RiskMetric>;
  positionPct?: number;
  timeframeMs?: number;
}): DoublingInput => ({
  ...base,
  timeframeMs: over.timeframeMs ?? HOUR,
  previous: over.previous === null ? null : { ...base.previous!, ...over.previous },
  next: { ...base.next, ...over.next },
  risk: { ...risk, ...over.risk },
  positionPct: over.positionPct ?? base.positionPct,
});

describe('evaluateDoubling', () => {
  it.each<[string, Parameters<typeof withChanges>[0], boolean, DoublingDecision['blockedBy']]>([
    ['all guardrails pass', {}, true, null],
    ['no open recommendation (not applicable)', { previous: null }, false, null],
    ['new signal is flat (not applicable)', { next: { direction: 'flat' } }, false, null],
    ['opposite direction', { next: { direction: 'short' } }, false, 'not_same_direction'],
    ['score rose by exactly the delta', { next: { score: 60 } }, false, 'score_delta'],
    ['score rose by delta + 1', { next: { score: 61 } }, true, null],
    ['score fell', { next: { score: 40 } }, false, 'score_delta'],
    ['volatility at the limit', { risk: { realizedVol: 1.2 } }, false, 'volatility'],
    ['volatility just under the limit', { risk: { realizedVol: 1.19 } }, true, null],
    ['cooldown not elapsed', { next: { createdAt: T + 4 * HOUR - 1 } }, false, 'cooldown'],
    ['cooldown exactly elapsed', { next: { createdAt: T + 4 * HOUR } }, true, null],
    // Counted in candles: on 4h candles the next candle is 4 hours later and still within the cooldown.
    ['4h: one candle later (4 h) is within a 4-candle cooldown', { timeframeMs: 4 * HOUR, next: { createdAt: T + 4 * HOUR } }, false, 'cooldown'],
    ['4h: four candles later', { timeframeMs: 4 * HOUR, next: { createdAt: T + 16 * HOUR } }, true, null],
    ['1d: three candles later', { timeframeMs: 24 * HOUR, next: { createdAt: T + 72 * HOUR } }, false, 'cooldown'],
    ['doubled position above the cap', { positionPct: 5.5 }, false, 'max_position'],
    ['doubled position exactly at the cap', { positionPct: 5 }, true, null],
    // With the defaults (5 % a recommendation, 10 % cap) a position doubled once cannot double again.
    ['already doubled once (10 %)', { positionPct: 10 }, false, 'max_position'],
    // When several fail, the first in the documented order is reported.
    ['opposite direction and everything else failing', { next: { direction: 'short', score: 0, createdAt: T }, risk: { realizedVol: 3 }, positionPct: 50 }, false, 'not_same_direction'],
    ['score, vol, cooldown and size failing', { next: { score: 0, createdAt: T }, risk: { realizedVol: 3 }, positionPct: 50 }, false, 'score_delta'],
    ['vol, cooldown and size failing', { next: { createdAt: T }, risk: { realizedVol: 3 }, positionPct: 50 }, false, 'volatility'],
    ['cooldown and size failing', { next: { createdAt: T }, positionPct: 50 }, false, 'cooldown'],
    ['short repeated with a higher score', { previous: { direction: 'short' }, next: { direction: 'short' } }, true, null],
  ])('%s', (_name, changes, recommended, blockedBy) => {
    const d = evaluateDoubling(withChanges(changes));
    expect(d.recommended).toBe(recommended);
    expect(d.blockedBy).toBe(blockedBy);
    expect(d.detail.length).toBeGreaterThan(0);
  });

  it('explains the numbers behind a block', () => {
    expect(evaluateDoubling(withChanges({ positionPct: 6 })).detail).toBe('doubling 6 % would make 12 %, above the 10 % cap');
    expect(evaluateDoubling(withChanges({ next: { score: 55 } })).detail).toBe('score 55 is not above 50 + 10');
    expect(evaluateDoubling(withChanges({ next: { createdAt: T + 3 * HOUR } })).detail).toBe('3 candles since the open recommendation, cooldown is 4');
  });

  it('records the position the recommendation stands for: doubled when recommended, else kept', () => {
    expect(evaluateDoubling(withChanges({})).positionPct).toBe(10);
    expect(evaluateDoubling(withChanges({ next: { score: 55 } })).positionPct).toBe(5);
    expect(evaluateDoubling(withChanges({ previous: null })).positionPct).toBe(5);
  });
});
