/**
 * What a chat message asks, for the offline analyst: one intent and the pairs
 * it is about, resolved against the conversation when the message is a
 * follow-up ("and ETH?" keeps the previous question's intent; "why?" or "what
 * about the clusters?" keeps its pairs). Pure and deterministic.
 */
import { findMentionedSymbols, type ChatMessage } from '../context';

export const INTENTS = [
  'help', 'balance', 'doubling', 'compare', 'liquidations', 'track_record', 'edge', 'watchlist', 'why', 'price', 'risk', 'signal', 'overview',
] as const;
export type Intent = (typeof INTENTS)[number];

/** First match wins, so the more specific questions come first ("compare the win rates" is a comparison). */
const RULES: ReadonlyArray<[Exclude<Intent, 'overview'>, RegExp]> = [
  ['help', /\b(help|what can you (do|tell|answer)|what do you know|how does (this|it|zmarty) work|commands?)\b/i],
  ['balance', /\b(balance|credits?|spen[dt]|spending|charged?|how much (have i|did i|does (it|this|a question)))\b/i],
  ['doubling', /\b(doubl\w*|add to (my|the) (position|trade)|scale in|size up|average (down|up))\b/i],
  ['compare', /\b(compare[sd]?|comparison|versus|vs\.?|which (one|is|of)|better|stronger)\b/i],
  ['liquidations', /\b(liquidations?|liqs?|clusters?|liq map|liquidity)\b/i],
  ['track_record', /\b(win ?rate|winrate|track record|hit rate|performance|accura\w+|how (often|good|well)|results?|past trades)\b/i],
  ['edge', /\b(edge|beat(s|en)? chance|chance|coin ?flips?|random|luck|reliab\w+|trust(worthy)?|proven)\b/i],
  ['watchlist', /\b(watch ?list|my (pairs|symbols|coins|list)|what (do|am) i (follow|watch)\w*|following)\b/i],
  ['why', /\b(why|how come|explain|reasons?|based on)\b/i],
  ['price', /\b(price|trading at|worth|how much is|quote|change[ds]?|up or down|moved?|24 ?h)\b/i],
  ['risk', /\b(risk|risky|volatil\w+|drawdown|atr|regime)\b/i],
  ['signal', /\b(signals?|entry|stop|take[- ]?profit|target|levels?|long|short|buy|sell|setup|trade|position|should i)\b/i],
];

export interface ResolvedQuestion {
  intent: Intent;
  /** Pairs the answer is about, in order of mention (possibly inherited from earlier turns). */
  symbols: string[];
  /** A timeframe named in the message ("4h"), if any. */
  timeframe: string | null;
  /** True when the intent or the pairs came from earlier turns. */
  followUp: boolean;
}

export function classifyIntent(text: string): Intent | null {
  for (const [intent, re] of RULES) if (re.test(text)) return intent;
  return null;
}

export function resolveQuestion(message: string, history: readonly ChatMessage[], followed: ReadonlyArray<{ symbol: string }>): ResolvedQuestion {
  const mentioned = findMentionedSymbols(message, followed);
  let intent = classifyIntent(message);
  let symbols = mentioned;
  let followUp = false;

  // Earlier user turns, newest first: what they asked and about which pairs.
  const earlier = history
    .filter((m) => m.role === 'user')
    .reverse()
    .map((m) => ({ intent: classifyIntent(m.content), symbols: findMentionedSymbols(m.content, followed) }));

  // "and ETH?" / "what about SOL": no question of its own, so it is the previous question about other pairs.
  if (intent === null && earlier.length > 0 && mentioned.length > 0) {
    const previous = earlier.find((e) => e.intent !== null)?.intent ?? null;
    if (previous !== null && previous !== 'compare') {
      intent = previous;
      followUp = true;
    }
  }
  // "why?" right after a doubling question asks why doubling is (not) allowed.
  if (intent === 'why' && mentioned.length === 0 && earlier[0]?.intent === 'doubling') {
    intent = 'doubling';
    followUp = true;
  }
  // No pair named: the pairs of the conversation so far (a question about the account needs none).
  if (symbols.length === 0 && intent !== 'help' && intent !== 'balance' && intent !== 'watchlist') {
    const withPairs = earlier.find((e) => e.symbols.length > 0);
    if (withPairs) {
      symbols = withPairs.symbols;
      followUp = true;
    }
  }
  // Two pairs and no other question ("BTC or ETH?") is a comparison.
  if (intent === null && mentioned.length >= 2) intent = 'compare';
  // "Compare ETH" after a BTC question: compare with the pair discussed before.
  if (intent === 'compare' && symbols.length === 1) {
    const other = earlier.flatMap((e) => e.symbols).find((s) => s !== symbols[0]);
    if (other) {
      symbols = [other, symbols[0]!];
      followUp = true;
    }
  }
  const timeframe = /\b(1m|5m|15m|1h|4h|1d)\b/i.exec(message)?.[1]?.toLowerCase() ?? null;
  return { intent: intent ?? 'overview', symbols, timeframe, followUp };
}
