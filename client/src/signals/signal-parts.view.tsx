import type { SignalRow } from '../../../common/events';
import { formatNumber, formatPrice } from './signals.logic';

export function DirectionBadge({ direction }: { direction: SignalRow['direction'] }) {
  const label = direction === 'long' ? 'Long' : direction === 'short' ? 'Short' : 'Flat';
  return <span className={`dir dir-${direction}`}>{label}</span>;
}

/** Entry / stop / take-profit in one compact line. */
export function Levels({ signal }: { signal: Pick<SignalRow, 'entry' | 'stop' | 'takeProfit'> }) {
  return (
    <dl className="levels">
      <div>
        <dt>Entry</dt>
        <dd>{formatPrice(signal.entry)}</dd>
      </div>
      <div>
        <dt>Stop</dt>
        <dd className="neg">{formatPrice(signal.stop)}</dd>
      </div>
      <div>
        <dt>TP</dt>
        <dd className="pos">{formatPrice(signal.takeProfit)}</dd>
      </div>
    </dl>
  );
}

export function Score({ score }: { score: number }) {
  return <span className="score" title="Signal score">{formatNumber(score)}</span>;
}

export function timeAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return new Date(t).toLocaleDateString();
}
