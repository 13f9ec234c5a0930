/**
 * Which trading pairs a chat message talks about. Used by routing ("several
 * symbols" counts as complex reasoning) and by the local analyst.
 *
 * Rules, in order of appearance in the text, without duplicates:
 * - explicit pairs: "BTC/USDT", "eth-usdt", "SOL / USDC";
 * - a bare base ("btc", "BTC's") of a pair the user follows, mapped to that pair;
 * - a bare well-known base or name ("bitcoin", "ETH") mapped to BASE/USDT.
 * Bases that are ordinary English words ("ONE", "OP", "AI") only count in
 * upper case, so "one more question" is not about Harmony.
 */
const QUOTES = ['USDT', 'USDC', 'FDUSD', 'USD', 'BTC', 'ETH', 'EUR'];
const WELL_KNOWN: Record<string, string> = {
  BTC: 'BTC', BITCOIN: 'BTC', ETH: 'ETH', ETHER: 'ETH', ETHEREUM: 'ETH', SOL: 'SOL', SOLANA: 'SOL', XRP: 'XRP', RIPPLE: 'XRP',
  BNB: 'BNB', DOGE: 'DOGE', DOGECOIN: 'DOGE', ADA: 'ADA', CARDANO: 'ADA', AVAX: 'AVAX', AVALANCHE: 'AVAX', LINK: 'LINK',
  CHAINLINK: 'LINK', DOT: 'DOT', POLKADOT: 'DOT', LTC: 'LTC', LITECOIN: 'LTC', TRX: 'TRX', TRON: 'TRX', TON: 'TON',
};
/** Bases that are also common words: matched only when written in capitals. */
const WORDLIKE = new Set(['ONE', 'OP', 'AI', 'IT', 'ME', 'GO', 'AT', 'ON', 'FOR', 'NOT', 'BAT', 'GAS', 'LINK', 'DOT', 'TON', 'SUN', 'MASK', 'ANY', 'ALL', 'HOT', 'ACE', 'KEY', 'CAKE', 'NEAR']);

const PAIR_RE = new RegExp(`\\b([A-Za-z0-9]{2,15})\\s*[/-]\\s*(${QUOTES.join('|')})\\b`, 'gi');
const WORD_RE = /\b[A-Za-z0-9]{2,15}\b/g;

export function findMentionedSymbols(text: string, followed: ReadonlyArray<{ symbol: string }> = []): string[] {
  const hits: Array<{ at: number; symbol: string }> = [];
  const covered: Array<[number, number]> = [];

  for (const m of text.matchAll(PAIR_RE)) {
    hits.push({ at: m.index, symbol: `${m[1]!.toUpperCase()}/${m[2]!.toUpperCase()}` });
    covered.push([m.index, m.index + m[0].length]);
  }

  const byBase = new Map<string, string>();
  for (const { symbol } of followed) {
    const base = symbol.split('/')[0];
    // The first pair the user follows for a base wins (BTC/USDT before BTC/USDC if listed first).
    if (base && !byBase.has(base)) byBase.set(base, symbol);
  }

  for (const m of text.matchAll(WORD_RE)) {
    if (covered.some(([s, e]) => m.index >= s && m.index < e)) continue;
    const word = m[0];
    const upper = word.toUpperCase();
    if (WORDLIKE.has(upper) && word !== upper) continue;
    const followedPair = byBase.get(upper);
    const known = WELL_KNOWN[upper];
    const symbol = followedPair ?? (known ? byBase.get(known) ?? `${known}/USDT` : undefined);
    if (symbol) hits.push({ at: m.index, symbol });
  }

  const seen = new Set<string>();
  return hits
    .sort((a, b) => a.at - b.at)
    .map((h) => h.symbol)
    .filter((s) => (seen.has(s) ? false : (seen.add(s), true)));
}
