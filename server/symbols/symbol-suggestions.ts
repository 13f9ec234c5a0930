/**
 * Close matches for a pair the market does not list: the same base against
 * another quote first (ETH/USD → ETH/USDT), then pairs within a small edit
 * distance (SOLL/USDT → SOL/USDT, BTC/USTD → BTC/USDT). Pure.
 */
const PREFERRED_QUOTES = ['USDT', 'USDC', 'FDUSD', 'BTC', 'ETH'];
/** Edits allowed over the whole "BASE/QUOTE" text: 2 catches a typo or a swapped pair of letters. */
const MAX_DISTANCE = 2;

export function suggestSymbols(symbol: string, known: Iterable<string>, limit = 3): string[] {
  const [base, quote] = symbol.split('/');
  const scored: Array<{ s: string; rank: number; distance: number }> = [];
  for (const candidate of known) {
    if (candidate === symbol) continue;
    const [cBase, cQuote] = candidate.split('/');
    if (cBase === base) {
      const q = PREFERRED_QUOTES.indexOf(cQuote ?? '');
      scored.push({ s: candidate, rank: 0, distance: q === -1 ? PREFERRED_QUOTES.length : q });
      continue;
    }
    // Only compare texts of similar length: cheap, and a distance above 2 is never kept anyway.
    if (Math.abs(candidate.length - symbol.length) > MAX_DISTANCE) continue;
    const distance = editDistance(symbol, candidate);
    // A match on the quote alone (FOO/USDT vs XRP/USDT) is no suggestion: the base must be close too.
    // Short bases must be within one edit (else EHT would suggest DOT as well as ETH).
    const baseSlack = (base?.length ?? 0) <= 4 ? 1 : 2;
    if (distance <= MAX_DISTANCE && editDistance(base ?? '', cBase ?? '') <= baseSlack) {
      scored.push({ s: candidate, rank: cQuote === quote ? 1 : 2, distance });
    }
  }
  // The base was right and only the quote is not listed: other bases would only distract.
  const pool = scored.some((x) => x.rank === 0) ? scored.filter((x) => x.rank === 0) : scored;
  return pool
    .sort((a, b) => a.rank - b.rank || a.distance - b.distance || a.s.localeCompare(b.s))
    .slice(0, limit)
    .map((x) => x.s);
}

/**
 * Levenshtein distance with adjacent transpositions counted as one edit
 * (optimal string alignment), on two rows. Symbols are ≤ 26 characters, so
 * this is a few hundred steps per candidate.
 */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}
