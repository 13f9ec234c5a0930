/**
 * What the chat knows when it answers: the user's message, their watchlist,
 * and the latest market facts per watched pair. Shapes are structural so the
 * rows of `loadMarketSnapshots` (server/market) fit without mapping.
 *
 * Units: `*Pct` fields are percentages (1.5 = 1.5 %); `realizedVol` is an
 * annualised fraction (0.65 = 65 %), as the pipeline writes them.
 */
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface SignalFacts {
  direction: 'long' | 'short' | 'flat';
  /** 0–100. */
  score: number;
  entry: number;
  stop: number | null;
  takeProfit: number | null;
  /** ISO time of the candle the signal was computed on. */
  candleTime: string;
  /** The pipeline's reasons: `[{indicator, vote, weight, detail}]`; anything else is ignored. */
  reasons?: unknown;
  /** The pipeline's doubling guardrails for this signal: `{recommended, blockedBy, detail}` or null (not applicable). */
  doubling?: unknown;
}

export interface RiskFacts {
  regime: string; // 'low' | 'normal' | 'high' | 'extreme'
  realizedVol: number;
  atrPct: number;
  drawdownPct: number;
  candleTime?: string;
}

export interface WinRateFacts {
  /** null when there were no trades in the window. */
  winPct: number | null;
  trades: number;
  profitFactor?: number | null;
  expectancyPct?: number | null;
}

/**
 * The measured edge of the strategy on a pair and timeframe (the walk-forward
 * track record against a seeded coin flip), carried by every signal.
 */
export interface EdgeFacts {
  verdict: 'positive' | 'none' | 'negative';
  trades: number; // independent trades in the window
  expectancyPct: number; // strategy expectancy per trade after fees, %
  coinFlipMedianPct: number; // coin-flip median expectancy per trade, %
  percentile: number; // the strategy's percentile among the coin flips, 0-100
  window: string; // human words, e.g. 'the last 1,000 hours'
}

/** A liquidation cluster of the latest map (strength 0–1, relative to that map). */
export interface LiqClusterFacts {
  side: 'long' | 'short';
  priceLow: number;
  priceHigh: number;
  strength: number;
  source: string;
}

/** The user's credits: balance before this answer and what settled answers cost lately. */
export interface AccountFacts {
  balance: number;
  spent24h: number;
  answers24h: number;
  /** Newest first. */
  recent: Array<{ at: string; credits: number; provider: string | null; voice: boolean }>;
}

export interface MarketEntry {
  symbol: string;
  timeframe: string;
  signal?: SignalFacts | null;
  risk?: RiskFacts | null;
  /** 30-day window. */
  winRate30d?: WinRateFacts | null;
  /** All-time window. */
  winRateAll?: WinRateFacts | null;
  lastPrice?: number | null;
  /** The edge the signal carries; null or absent when none was measured (say so: never a signal without it). */
  edge?: EdgeFacts | null;
  /** Latest close vs 24 h earlier, %. */
  change24hPct?: number | null;
  /** Clusters of the latest liquidation map nearest the last price, nearest first. */
  clusters?: LiqClusterFacts[] | null;
}

export interface PromptInput {
  userMessage: string;
  /** The user's watchlist. */
  symbols: Array<{ symbol: string; timeframe: string }>;
  /** 'unavailable' when the market data could not be read (the answer must say so, never guess). */
  market: MarketEntry[] | 'unavailable';
  now: Date;
  /** Earlier turns, oldest first (optional; the last few are kept). */
  history?: ChatMessage[];
  /** Balance and recent spend; absent when they could not be read. */
  account?: AccountFacts | null;
  /** Whether tool executors will be offered to the model. */
  toolsAvailable?: boolean;
}

/** A ready-to-send prompt; `input` travels along for routing and the local analyst. */
export interface Prompt {
  system: string;
  messages: ChatMessage[];
  input: PromptInput;
}
