import type { PublicConfig } from './api.client';

/**
 * Says plainly when prices and signals come from the simulated market (the
 * default without an exchange configured), so nobody mistakes them for live
 * quotes. Nothing is shown for a real exchange feed.
 */
export function MarketNotice({ kind }: { kind: PublicConfig['marketData'] }) {
  if (kind !== 'simulated') return null;
  return (
    <p className="market-notice" data-testid="market-notice">
      <strong>Simulated market data.</strong> Prices, signals and liquidation levels are generated offline for demonstration, not quoted from an exchange.
    </p>
  );
}
