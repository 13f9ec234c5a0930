/**
 * The committed score calibration: isotonic fits (score-calibration.ts) of
 * win rate on vote over every trade of the four shared research files
 * (../shared/data: BTC and ETH, 1h 2024 and 1d 2017–2022), walked forward
 * with the default rules. Regenerate after a strategy change with
 *   npx tsx scripts/strategy-table.ts ../shared/data --calibrate
 * and paste its output here; docs/STRATEGY.md shows the out-of-sample check.
 */
import type { CalibrationGroup, CalibrationStep } from './score-calibration';

export const SCORE_CALIBRATION: Record<CalibrationGroup, readonly CalibrationStep[]> = {
  // BTC and ETH 1h 2024: 760 trades. No step in the vote survives the 5 % test: one rate for every call.
  intraday: [{ vote: 40, trades: 760, wins: 345, winPct: 45.39473684210526 }],
  // BTC and ETH 1d 2019–2022: 135 trades (votes 40–44 won 51.6 %, 45 and above 64.4 %: not significant).
  daily: [{ vote: 40, trades: 135, wins: 79, winPct: 58.51851851851852 }],
};
