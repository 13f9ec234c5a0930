import { CandlestickSeries, ColorType, createChart, createSeriesMarkers, LineStyle, type UTCTimestamp } from 'lightweight-charts';
import { useEffect, useRef, useState } from 'react';
import type { SignalRow } from '../../../common/events';
import type { Api, CandlesResponse } from '../lib/api.client';
import type { TrackRecordSummary } from '../../../common/edge';
import { formatCandleTime } from '../../../common/format';
import { DirectionBadge, EdgeBadge, EdgeSentence, Levels, Score, ScoreMeaning, timeAgo } from './signal-parts.view';
import { TrackRecordView } from './track-record.view';
import { chartLevels, doublingText, labelledLevels, pctFromEntry, reasonsToList, toChartCandles, type PriceLevel } from './signals.logic';

const LEVEL_COLORS: Record<PriceLevel['kind'], string> = {
  entry: '#58a6ff',
  stop: '#f85149',
  take_profit: '#3fb950',
  liq_long: '#d29922',
  liq_short: '#bc8cff',
};

type Load = { state: 'loading' } | { state: 'ready'; data: CandlesResponse } | { state: 'missing' } | { state: 'error'; message: string };

function CandleChart({ signal, data }: { signal: SignalRow; data: CandlesResponse }) {
  const container = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!container.current) return;
    const chart = createChart(container.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#0d1117' }, textColor: '#c9d1d9', fontSize: 12 },
      grid: { vertLines: { color: '#1b222c' }, horzLines: { color: '#1b222c' } },
      rightPriceScale: { borderColor: '#30363d' },
      timeScale: { borderColor: '#30363d', timeVisible: true },
    });
    const series = chart.addSeries(CandlestickSeries, {
      upColor: '#3fb950',
      downColor: '#f85149',
      borderVisible: false,
      wickUpColor: '#3fb950',
      wickDownColor: '#f85149',
    });
    const candles = toChartCandles(data.candles);
    series.setData(candles.map((c) => ({ ...c, time: c.time as UTCTimestamp })));
    chart.timeScale().fitContent();
    // Labels closer than a line of text to a more important one are dropped, so none print over another.
    const height = container.current.clientHeight || 300;
    const prices = candles.flatMap((c) => [c.high, c.low]);
    const [top, bottom] = [Math.max(...prices), Math.min(...prices)];
    const estimate = (price: number) => (top > bottom ? ((top - price) / (top - bottom)) * height : null);
    for (const level of labelledLevels(chartLevels(signal, data.clusters ?? []), (price) => series.priceToCoordinate(price) ?? estimate(price))) {
      const liq = level.kind === 'liq_long' || level.kind === 'liq_short';
      series.createPriceLine({
        price: level.price,
        color: LEVEL_COLORS[level.kind],
        lineWidth: liq ? 1 : 2,
        lineStyle: liq ? LineStyle.Dashed : LineStyle.Solid,
        axisLabelVisible: level.label,
        title: level.label ? level.title : '',
      });
    }
    // Mark the candle the signal was computed on, when it is in range.
    const signalTime = Math.floor(Date.parse(signal.candleTime) / 1000);
    if (signal.direction !== 'flat' && candles.some((c) => c.time === signalTime)) {
      createSeriesMarkers(series, [
        {
          time: signalTime as UTCTimestamp,
          position: signal.direction === 'long' ? 'belowBar' : 'aboveBar',
          shape: signal.direction === 'long' ? 'arrowUp' : 'arrowDown',
          color: signal.direction === 'long' ? '#3fb950' : '#f85149',
          text: 'Signal',
        },
      ]);
    }
    return () => chart.remove();
  }, [signal, data]);

  return <div className="chart" ref={container} role="figure" aria-label={`${signal.symbol} ${signal.timeframe} candlestick chart with entry, stop, take-profit and liquidation levels`} />;
}

export function SignalDetailView({
  signal,
  api,
  trackRecord,
  onClose,
}: {
  signal: SignalRow;
  api: Api;
  /** The pair's track record from the overview, when it is on the watch list. */
  trackRecord?: TrackRecordSummary[];
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [load, setLoad] = useState<Load>({ state: 'loading' });

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  useEffect(() => {
    let live = true;
    setLoad({ state: 'loading' });
    api
      .candles(signal.symbol, signal.timeframe, 200)
      .then((data) => live && setLoad(data ? { state: 'ready', data } : { state: 'missing' }))
      .catch((err: unknown) => live && setLoad({ state: 'error', message: err instanceof Error ? err.message : 'Could not load candles' }));
    return () => {
      live = false;
    };
  }, [api, signal.symbol, signal.timeframe]);

  const reasons = reasonsToList(signal.reasons);
  const doubling = doublingText(signal.doubling);

  return (
    <dialog
      ref={dialog}
      className="detail"
      aria-labelledby="detail-title"
      onClose={onClose}
      onClick={(e) => {
        if (e.target === dialog.current) dialog.current?.close(); // click on the backdrop
      }}
    >
      <div className="detail-inner">
        <header className="detail-head">
          <h2 id="detail-title">
            {signal.symbol} <span className="tf">{signal.timeframe}</span> <DirectionBadge direction={signal.direction} /> <Score score={signal.score} />{' '}
            <EdgeBadge edge={signal.edge} symbol={signal.symbol} timeframe={signal.timeframe} />
          </h2>
          <button type="button" className="icon-btn" aria-label="Close signal details" onClick={() => dialog.current?.close()} autoFocus>
            ×
          </button>
        </header>
        <p className="muted">
          Candle <time dateTime={signal.candleTime} data-testid="candle-time">{formatCandleTime(signal.candleTime)}</time> · fired {timeAgo(signal.createdAt)}
        </p>
        <EdgeSentence edge={signal.edge} symbol={signal.symbol} timeframe={signal.timeframe} />
        <ScoreMeaning score={signal.score} />
        <Levels signal={signal} />
        <p className="muted small">
          Stop {pctFromEntry(signal.entry, signal.stop) || '—'} · Take profit {pctFromEntry(signal.entry, signal.takeProfit) || '—'}
        </p>
        {load.state === 'loading' && <div className="chart chart-placeholder">Loading chart…</div>}
        {load.state === 'missing' && <div className="chart chart-placeholder">Chart data is not available yet.</div>}
        {load.state === 'error' && <div className="chart chart-placeholder">{load.message}</div>}
        {load.state === 'ready' && <CandleChart signal={signal} data={load.data} />}
        <ul className="legend" aria-label="Chart legend">
          <li><span className="swatch" style={{ background: LEVEL_COLORS.entry }} />Entry</li>
          <li><span className="swatch" style={{ background: LEVEL_COLORS.stop }} />Stop</li>
          <li><span className="swatch" style={{ background: LEVEL_COLORS.take_profit }} />Take profit</li>
          <li><span className="swatch" style={{ background: LEVEL_COLORS.liq_long }} />Long liquidations</li>
          <li><span className="swatch" style={{ background: LEVEL_COLORS.liq_short }} />Short liquidations</li>
        </ul>
        <h3>Why this signal</h3>
        {reasons.length === 0 ? (
          <p className="muted">No reasons were recorded.</p>
        ) : (
          <ul className="reasons">
            {reasons.map((r, i) => (
              <li key={i}>
                {r.vote && <span className={`vote vote-${r.vote}`}>{r.vote}</span>}
                {r.label && <strong>{r.label}</strong>} <span>{r.detail}</span>
              </li>
            ))}
          </ul>
        )}
        {doubling && <p className="doubling">{doubling}</p>}
        {trackRecord && (
          <>
            <h3>Following these signals</h3>
            <TrackRecordView records={trackRecord} symbol={signal.symbol} timeframe={signal.timeframe} />
          </>
        )}
        <p className="muted small">Signals are computed from market data and are not financial advice.</p>
      </div>
    </dialog>
  );
}
