import { ColorType, createChart, LineSeries, type UTCTimestamp } from 'lightweight-charts';
import { useEffect, useRef } from 'react';
import type { TrackRecordSummary } from '../../../common/edge';

const STRATEGY_COLOR = '#58a6ff';
const HOLD_COLOR = '#8b949e';

/** The strategy's equity against buy-and-hold over the window, card-sized. */
export function EquityCurve({ record, label }: { record: TrackRecordSummary; label: string }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!container.current || record.equity.length < 2) return;
    const chart = createChart(container.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: '#8b949e', fontSize: 10 },
      grid: { vertLines: { visible: false }, horzLines: { visible: false } },
      rightPriceScale: { visible: false },
      timeScale: { visible: false },
      handleScroll: false,
      handleScale: false,
      crosshair: { vertLine: { visible: false }, horzLine: { visible: false } },
    });
    // Times are seconds for lightweight-charts; the curve is downsampled, so times are strictly increasing.
    const points = record.equity.map(([t, strategy, hold]) => ({ time: Math.floor(t / 1000) as UTCTimestamp, strategy, hold }));
    const line = (color: string, pick: (p: (typeof points)[number]) => number) => {
      const s = chart.addSeries(LineSeries, { color, lineWidth: 2, priceLineVisible: false, lastValueVisible: false });
      s.setData(points.map((p) => ({ time: p.time, value: (pick(p) - 1) * 100 })));
    };
    line(HOLD_COLOR, (p) => p.hold);
    line(STRATEGY_COLOR, (p) => p.strategy);
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [record]);
  // A figure, not an img: lightweight-charts puts focusable parts inside (axe: nested-interactive).
  return <div className="equity" ref={container} role="figure" aria-label={label} data-testid="equity-curve" />;
}

