import type { SignalRow } from '../../../common/events';
import { DirectionBadge, Levels, Score, timeAgo } from './signal-parts.view';

export function SignalFeedView({ feed, onOpen }: { feed: SignalRow[]; onOpen: (signal: SignalRow) => void }) {
  return (
    <section className="panel" aria-labelledby="feed-title">
      <h2 id="feed-title" className="panel-title">
        Live signals
      </h2>
      {feed.length === 0 ? (
        <p className="muted empty">Signals for your pairs appear here the moment they fire.</p>
      ) : (
        <ul className="feed">
          {feed.map((s) => (
            <li key={s.id}>
              <button type="button" className="feed-item" data-testid="signal-feed-item" data-signal-id={s.id} onClick={() => onOpen(s)}>
                <span className="feed-head">
                  <strong>{s.symbol}</strong>
                  <span className="tf">{s.timeframe}</span>
                  <DirectionBadge direction={s.direction} />
                  <Score score={s.score} />
                  <time className="muted" dateTime={s.createdAt}>
                    {timeAgo(s.createdAt)}
                  </time>
                </span>
                <Levels signal={s} />
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function SignalToastsView({ toasts, onOpen, onDismiss }: { toasts: SignalRow[]; onOpen: (s: SignalRow) => void; onDismiss: (id: number) => void }) {
  return (
    <div className="toasts" role="region" aria-live="polite" aria-relevant="additions" aria-label="Signal alerts">
      {toasts.map((s) => (
        <div key={s.id} className={`toast toast-${s.direction}`} data-testid="signal-alert" data-signal-id={s.id} role="status">
          <button type="button" className="toast-body" onClick={() => onOpen(s)}>
            <span className="toast-title">
              New signal · <strong>{s.symbol}</strong> {s.timeframe} <DirectionBadge direction={s.direction} /> <Score score={s.score} />
            </span>
            <Levels signal={s} />
          </button>
          <button type="button" className="icon-btn" aria-label={`Dismiss ${s.symbol} alert`} onClick={() => onDismiss(s.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
