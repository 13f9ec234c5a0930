import { describeEdge, noEdgeSentence, scoreBand, scoreMeaning, scoreWithMeaning, type EdgeFacts } from '../../../common/edge';
import type { SignalRow } from '../../../common/events';
import { formatPrice } from './signals.logic';

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

/** "45 · weak": the score with its meaning (scale and bands in common/edge.ts, explained in docs/STRATEGY.md). */
export function Score({ score }: { score: number }) {
  return (
    <span className={`score score-${scoreBand(score).replace(' ', '-')}`} title={scoreMeaning(score)} data-testid="score">
      {scoreWithMeaning(score)}
    </span>
  );
}

const EDGE_LABEL: Record<EdgeFacts['verdict'], string> = { positive: 'beats chance', none: 'no edge', negative: 'worse than chance' };

/** The measured edge of the pair and timeframe, never left out: "no track record" when none was measured. */
export function EdgeBadge({ edge, symbol, timeframe }: { edge: EdgeFacts | null | undefined; symbol: string; timeframe: string }) {
  const sentence = edge ? describeEdge(symbol, timeframe, edge) : noEdgeSentence(symbol, timeframe);
  return (
    <span className={`edge edge-${edge?.verdict ?? 'unknown'}`} title={sentence} data-testid="edge-badge">
      {edge ? EDGE_LABEL[edge.verdict] : 'no track record'}
    </span>
  );
}

/** What the score means, in one sentence (the signal detail). */
export function ScoreMeaning({ score }: { score: number }) {
  return (
    <p className="muted small" data-testid="score-meaning">
      {scoreMeaning(score)}
    </p>
  );
}

/** The edge in one plain sentence, capitalised. */
export function EdgeSentence({ edge, symbol, timeframe }: { edge: EdgeFacts | null | undefined; symbol: string; timeframe: string }) {
  const sentence = edge ? describeEdge(symbol, timeframe, edge) : noEdgeSentence(symbol, timeframe);
  return (
    <p className="edge-sentence small" data-testid="edge-sentence">
      {sentence.charAt(0).toUpperCase() + sentence.slice(1)}.
    </p>
  );
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
