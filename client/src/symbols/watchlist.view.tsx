import { useId, useState, type FormEvent } from 'react';
import type { SignalRow } from '../../../common/events';
import type { WatchedSymbol } from '../lib/api.client';
import { DirectionBadge, EdgeBadge, Levels, Score, timeAgo } from '../signals/signal-parts.view';
import { formatWinRate, type OverviewItem } from '../signals/signals.logic';
import { TrackRecordView } from '../signals/track-record.view';
import { COMMON_PAIRS, normalizeSymbol, TIMEFRAMES } from './symbol.validation';
import { overviewFor } from './watchlist.hook';
import { groupWatchlist } from './watchlist.logic';

interface Props {
  symbols: WatchedSymbol[] | null;
  overview: OverviewItem[] | null;
  loadError: string | null;
  refused: string[];
  onAdd: (symbol: string, timeframe: string) => Promise<string | null>;
  onRemove: (id: number) => Promise<string | null>;
  onOpen: (signal: SignalRow) => void;
}

export function WatchlistView({ symbols, overview, loadError, refused, onAdd, onRemove, onOpen }: Props) {
  const [input, setInput] = useState('');
  const [timeframe, setTimeframe] = useState<string>('1h');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { input: useId(), tf: useId(), error: useId(), list: useId() };

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    const message = await onAdd(input, timeframe);
    setBusy(false);
    setError(message);
    if (!message) setInput('');
  }

  async function remove(id: number) {
    const message = await onRemove(id);
    if (message) setError(message);
  }

  // Live feedback only once the input looks finished, so typing "BT" is not an error.
  const preview = input.trim().length >= 5 ? normalizeSymbol(input) : null;

  return (
    <section className="panel" aria-labelledby="watch-title">
      <h2 id="watch-title" className="panel-title">
        Watchlist
      </h2>
      <form className="add-symbol" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field grow">
          <label htmlFor={ids.input}>Pair</label>
          <input
            id={ids.input}
            data-testid="symbol-input"
            list={ids.list}
            placeholder="BTC/USDT"
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            value={input}
            onChange={(e) => {
              setInput(e.target.value);
              setError(null);
            }}
            aria-invalid={error !== null || preview?.ok === false}
            aria-describedby={ids.error}
          />
          <datalist id={ids.list}>
            {COMMON_PAIRS.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={ids.tf}>Timeframe</label>
          <select id={ids.tf} value={timeframe} onChange={(e) => setTimeframe(e.target.value)}>
            {TIMEFRAMES.map((tf) => (
              <option key={tf} value={tf}>
                {tf}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn btn-primary" data-testid="add-symbol" disabled={busy || !input.trim()}>
          Add
        </button>
        <p id={ids.error} className={error || preview?.ok === false ? 'form-error' : 'hint'} role={error ? 'alert' : undefined}>
          {error ?? (preview && !preview.ok ? preview.message : preview?.ok && preview.symbol !== input.trim() ? `Will add ${preview.symbol}` : '\u00a0')}
        </p>
      </form>

      {loadError && <p className="form-error">{loadError}</p>}
      {symbols === null && !loadError && <p className="muted">Loading your pairs…</p>}
      {symbols?.length === 0 && <p className="muted empty">Add a pair to get live signals for it.</p>}
      {symbols && symbols.length > 0 && (
        <ul className="watchlist">
          {groupWatchlist(symbols, overview).map((group) => (
            <li key={group.symbol} className="pair-group" data-testid="pair-group" data-symbol={group.symbol}>
              <div className="pair-head">
                <strong className="row-symbol">{group.symbol}</strong>
                <span className="pair-price" data-testid="pair-price" title="Last price">
                  {group.price}
                </span>
                <span className={`pair-change trend-${group.trend}`} data-testid="pair-change" title="Change over 24 hours">
                  {group.change}
                </span>
              </div>
              <ul className="pair-timeframes">
                {group.rows.map((row) => {
                  const info = overviewFor(overview, row);
                  const signal = info?.signal ?? null;
                  return (
                    <li key={row.id} className="symbol-row" data-testid="symbol-row" data-symbol={row.symbol} data-timeframe={row.timeframe}>
                      <div className="row-head">
                        <span className="tf">{row.timeframe}</span>
                        {info?.risk && (
                          <span className={`regime regime-${info.risk.regime}`} title={`Realised volatility ${(info.risk.realizedVol * 100).toFixed(0)}% · ATR ${info.risk.atrPct.toFixed(2)}%`}>
                            {info.risk.regime} vol
                          </span>
                        )}
                        {refused.includes(row.symbol) && <span className="muted small">not live</span>}
                        <button type="button" className="icon-btn row-remove" aria-label={`Remove ${row.symbol} ${row.timeframe}`} onClick={() => void remove(row.id)}>
                          ×
                        </button>
                      </div>
                      {signal ? (
                        <button type="button" className="row-signal" onClick={() => onOpen(signal)}>
                          {/* The name is the visible content (direction, score, levels) after this prefix: a screen reader hears the levels too. */}
                          <span className="visually-hidden">Open {row.symbol} signal details: </span>
                          <span className="row-signal-head">
                            <DirectionBadge direction={signal.direction} />
                            <Score score={signal.score} />
                            <time className="muted small" dateTime={signal.createdAt}>
                              {timeAgo(signal.createdAt)}
                            </time>
                          </span>
                          <Levels signal={signal} />
                        </button>
                      ) : (
                        <p className="muted small">{overview === null ? 'Signal overview unavailable' : 'No signal yet'}</p>
                      )}
                      <p className="row-stats small">
                        <EdgeBadge edge={signal?.edge} symbol={row.symbol} timeframe={row.timeframe} /> 30-day win rate:{' '}
                        <strong>{info ? formatWinRate(info.winRate30d) : '—'}</strong>
                      </p>
                      {info && <TrackRecordView records={info.trackRecord} symbol={row.symbol} timeframe={row.timeframe} />}
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
