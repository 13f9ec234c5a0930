/** Prompt building for the chat (pure). */
export { buildPrompt, describeEntry, HISTORY_TURNS } from './build-prompt';
export { findMentionedSymbols } from './symbol-mentions';
export { describeEdge, describeRisk, describeSignal, describeWinRate, formatAge, formatPct, formatPrice, sortEntries, topReasons } from './market-format';
export type { AccountFacts, ChatMessage, EdgeFacts, LiqClusterFacts, MarketEntry, Prompt, PromptInput, RiskFacts, SignalFacts, WinRateFacts } from './prompt.types';
