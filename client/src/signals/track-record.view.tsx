import { lazy, Suspense } from 'react';
import type { TrackRecordSummary } from '../../../common/edge';
import { trackRecordLines } from './signals.logic';

// lightweight-charts stays out of the main bundle, as for the signal detail.
const EquityCurve = lazy(() => import('./equity-curve.view').then((m) => ({ default: m.EquityCurve })));
const STRATEGY_COLOR = '#58a6ff';
const HOLD_COLOR = '#8b949e';

/**
 * How a trader following the signals would have done over the window
 * (walk-forward, fees both sides), against holding the coin and against a
 * seeded coin flip with the same stops and targets.
 */
export function TrackRecordView({ records, symbol, timeframe }: { records: TrackRecordSummary[] | undefined; symbol: string; timeframe: string }) {
  const all = records?.find((r) => r.window === 'all');
  if (!all) return <p className="muted small" data-testid="track-record">No track record yet.</p>;
  const days = Math.max(1, Math.round((Date.parse(all.toTime) - Date.parse(all.fromTime)) / 86_400_000));
  return (
    <div className="track-record" data-testid="track-record">
      <p className="small track-record-head">
        Track record, last {days} days{' '}
        <span className="legend-inline">
          <span className="swatch" style={{ background: STRATEGY_COLOR }} />
          signals <span className="swatch" style={{ background: HOLD_COLOR }} />
          hold
        </span>
      </p>
      <Suspense fallback={<div className="equity" />}>
        <EquityCurve record={all} label={`${symbol} ${timeframe}: equity following the signals against buy-and-hold`} />
      </Suspense>
      <dl className="track-record-stats small">
        {trackRecordLines(all).map((l) => (
          <div key={l.label}>
            <dt>{l.label}</dt>
            <dd>{l.value}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
