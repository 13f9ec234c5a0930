/**
 * The backtest as one self-contained HTML page: no scripts, no external
 * files, charts as inline SVG, so it opens anywhere and can be attached to an
 * issue. Pure: report in, text out.
 */
import type { ReliabilityRow } from './metrics';
import type { BacktestReport } from './run-backtest';

const W = 900;
const H = 220;

export interface ReportMeta {
  symbol: string;
  timeframe: string;
  source: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number | null, digits = 2) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)} %`);
const num = (x: number | null, digits = 2) => (x === null ? '—' : x.toFixed(digits));
const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** Points of a polyline scaled into the chart box; y grows downwards in SVG. */
function path(values: readonly number[], lo: number, hi: number, height = H): string {
  const n = Math.max(1, values.length - 1);
  const span = hi - lo || 1;
  return values.map((v, i) => `${((i / n) * W).toFixed(1)},${(height - ((v - lo) / span) * height).toFixed(1)}`).join(' ');
}

/** Keep at most `max` points (every k-th, the last always) so a year of hourly candles stays light. */
function thin<T>(xs: readonly T[], max = 1500): T[] {
  if (xs.length <= max) return [...xs];
  const step = Math.ceil(xs.length / max);
  return xs.filter((_, i) => i % step === 0 || i === xs.length - 1);
}

function equityChart(report: BacktestReport): string {
  const points = thin(report.curve);
  const all = points.flatMap((p) => [p.equity, p.buyHold]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const baseline = path([1, 1], lo, hi);
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="equity curve against buy-and-hold">
<polyline points="${baseline}" fill="none" stroke="#bbb" stroke-dasharray="4 4"/>
<polyline points="${path(points.map((p) => p.buyHold), lo, hi)}" fill="none" stroke="#999" stroke-width="1.5"/>
<polyline points="${path(points.map((p) => p.equity), lo, hi)}" fill="none" stroke="#1565c0" stroke-width="2"/>
<text x="4" y="14" font-size="12">${num(hi, 3)}×</text><text x="4" y="${H - 4}" font-size="12">${num(lo, 3)}×</text>
</svg>
<p class="legend"><span style="color:#1565c0">■ strategy</span> <span style="color:#999">■ buy-and-hold</span> (equity, 1 = start; dashed: break-even)</p>`;
}

function drawdownChart(report: BacktestReport): string {
  const points = thin(report.curve);
  let peak = 0;
  const dd = points.map((p) => {
    peak = Math.max(peak, p.equity);
    return peak > 0 ? (1 - p.equity / peak) * 100 : 0;
  });
  const worst = Math.max(1, ...dd);
  const h = H / 2;
  // Drawdown hangs down from the top edge: 0 % at the top, the worst at the bottom.
  const line = path(
    dd.map((d) => -d),
    -worst,
    0,
    h,
  );
  return `<svg viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="drawdown">
<polygon points="0,0 ${line} ${W},0" fill="#ef9a9a" stroke="#c62828"/>
<text x="4" y="${h - 4}" font-size="12">−${worst.toFixed(1)} %</text>
</svg>`;
}

function row(cells: readonly string[], tag = 'td'): string {
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

export function renderReportHtml(report: BacktestReport, meta: ReportMeta): string {
  const s = report.stats;
  const cf = report.coinFlip;
  const title = `${esc(meta.symbol)} ${esc(meta.timeframe)} backtest`;
  const summary = [
    ['Window', `${day(report.from)} → ${day(report.to)} UTC (${report.candles} candles incl. warm-up, source ${esc(meta.source)})`],
    ['Rules', `next-open entry, one position per run of signals, fee ${report.feePct} % a side, horizon ${report.horizonCandles} candles, stop first when a candle reaches both levels`],
    ['Independent trades', `${s.trades} (${s.longs} long, ${s.shorts} short)`],
    ['Win rate', s.winRate === null ? '—' : `${s.winRate.toFixed(1)} % (95 % CI ${num(s.winRateLow, 1)}–${num(s.winRateHigh, 1)} %)`],
    ['Expectancy after fees', `${pct(s.expectancyPct, 3)} a trade`],
    ['Profit factor', num(s.profitFactor)],
    ['Total return', `${pct(report.totalReturnPct)} (max drawdown ${num(report.maxDrawdownPct, 1)} %)`],
    ['Buy-and-hold', `${pct(report.buyHold.returnPct)} (max drawdown ${num(report.buyHold.maxDrawdownPct, 1)} %)`],
    ['Coin flip', `median ${pct(cf.medianExpectancyPct, 3)} a trade, 5–95 %: ${pct(cf.p5, 3)} … ${pct(cf.p95, 3)} (${cf.draws} draws, seed ${cf.seed})`],
    ['Strategy percentile among the coin flips', cf.percentile === null ? '—' : `${cf.percentile.toFixed(1)}`],
    ['Edge', `<strong class="edge-${report.edge}">${report.edge}</strong>`],
    ['Exits', Object.entries(s.exitReasons).map(([k, v]) => `${k} ${v}`).join(', ')],
  ];
  const band = (r: ReliabilityRow) => row([String(r.score), String(r.trades), `${num(r.winRate, 1)} % (${num(r.winRateLow, 1)}–${num(r.winRateHigh, 1)} %)`, pct(r.expectancyPct, 3)]);
  const reliability = report.reliability.map(band);
  const oos = report.reliabilityOutOfSample;
  const oosFit = oos.fit.map((s) => `vote ≥ ${s.vote} → ${num(s.winPct, 1)} % (${s.trades} trades)`).join(', ') || 'no trades';
  const trades = report.trades.map((t, i) =>
    row([String(i + 1), day(t.entryTime), t.direction, String(t.score), num(t.entryPrice, 4), num(t.stop, 4), num(t.takeProfit, 4), day(t.exitTime), t.exitReason, num(t.exitPrice, 4), pct(t.returnPct, 3)]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.legend{color:#555;margin:0}
.edge-positive{color:#2e7d32}.edge-none{color:#8d6e00}.edge-negative{color:#c62828}
</style></head><body>
<h1>${title}</h1>
<table>${summary.map(([k, v]) => row([k!, v!])).join('\n')}</table>
<h2>Equity against buy-and-hold</h2>
${equityChart(report)}
<h2>Drawdown</h2>
${drawdownChart(report)}
<h2>Score reliability</h2>
<p>The score is the share of past calls like this one that closed in profit after fees (docs/STRATEGY.md). Does a higher score do better, and do calls win as often as their score says? Trades by the score of their opening signal; win rate with its 95 % Wilson interval.</p>
<table>${row(['Score', 'Trades', 'Win rate (95 % CI)', 'Expectancy'], 'th')}${reliability.join('\n')}</table>
<p>Out of sample on this run: calibration fitted on the trades of the first half of the window (${oosFit}), read on the trades of the second half.</p>
<table>${row(['Score', 'Trades', 'Win rate (95 % CI)', 'Expectancy'], 'th')}${oos.rows.map(band).join('\n')}</table>
<h2>Trades</h2>
<table>${row(['#', 'Entry (UTC)', 'Side', 'Score', 'Entry', 'Stop', 'Take-profit', 'Exit (UTC)', 'Reason', 'Exit', 'Net'], 'th')}
${trades.join('\n')}</table>
</body></html>
`;
}
