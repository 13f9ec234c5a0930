/**
 * Cuts a token stream into sentences for text-to-speech, so the first
 * sentence can be spoken while the model is still writing. Pure.
 *
 * A sentence ends at . ! ? … (with any closing quotes/brackets) followed by
 * whitespace and then a character that may start a sentence, or at a line
 * break. Not an end: decimals and thousands (97,500.50), initials and
 * dotted abbreviations (U.S., e.g., vs., approx.), list numbers ("1. "), a
 * period followed by a lower-case word. Until the character after the
 * whitespace has arrived the decision waits — one token of latency, instead
 * of a sentence cut after "approx.". Over-long runs without an end are split
 * at a comma or space so synthesis never waits on a wall of text.
 */
const TERMINATORS = '.!?…';
const CLOSERS = '"\'”’)]»';
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'eg', 'ie', 'approx', 'est', 'inc', 'ltd', 'co',
  'no', 'nr', 'fig', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'u.s', 'a.m', 'p.m', 'min', 'max',
]);

export interface SentenceChunker {
  /** Feeds a text delta; returns the sentences it completed, in order. */
  push(delta: string): string[];
  /** End of text: returns what is left as a last sentence (if any). */
  flush(): string[];
}

export function createSentenceChunker(options: { maxChars?: number } = {}): SentenceChunker {
  const maxChars = options.maxChars ?? 280;
  let buffer = '';

  const take = (final: boolean): string[] => {
    const out: string[] = [];
    for (;;) {
      const end = findBoundary(buffer, final);
      if (end !== undefined) {
        emit(out, buffer.slice(0, end));
        buffer = buffer.slice(end);
        continue;
      }
      if (buffer.length > maxChars) {
        const cut = softCut(buffer, maxChars);
        emit(out, buffer.slice(0, cut));
        buffer = buffer.slice(cut);
        continue;
      }
      return out;
    }
  };

  return {
    push: (delta) => {
      buffer += delta;
      return take(false);
    },
    flush: () => {
      const out = take(true);
      emit(out, buffer);
      buffer = '';
      return out;
    },
  };
}

function emit(out: string[], text: string): void {
  const sentence = text.replace(/\s+/g, ' ').trim();
  // Pure punctuation or markup ("---", "**") is not worth a synthesis call.
  if (/[\p{L}\p{N}]/u.test(sentence)) out.push(sentence);
}

/** Index just after the first sentence end in `text`, or undefined if none is certain yet. */
export function findBoundary(text: string, final: boolean): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') {
      if (/\S/.test(text.slice(0, i))) return i + 1;
      continue;
    }
    if (!TERMINATORS.includes(ch)) continue;
    let j = i;
    while (j + 1 < text.length && (TERMINATORS.includes(text[j + 1]!) || CLOSERS.includes(text[j + 1]!))) j++;
    if (j + 1 >= text.length) return final ? j + 1 : undefined;
    if (!/\s/.test(text[j + 1]!)) {
      i = j;
      continue; // 97,500.50 — e.g — U.S
    }
    let k = j + 1;
    while (k < text.length && /[ \t]/.test(text[k]!)) k++;
    if (k >= text.length) {
      if (final) return j + 1;
      return undefined; // the next word decides
    }
    if (text[k] === '\n') return j + 1;
    if (ch === '.' && j === i && !periodEnds(text.slice(0, i), text[k]!)) {
      i = j;
      continue;
    }
    return j + 1;
  }
  return undefined;
}

function periodEnds(before: string, next: string): boolean {
  if (/\p{Ll}/u.test(next)) return false; // "approx. 5 min", "vs. last week"
  const word = /([\p{L}][\p{L}.]*)$/u.exec(before)?.[1];
  if (word) {
    if (word.length === 1) return false; // initials: "J. Powell"
    if (ABBREVIATIONS.has(word.toLowerCase())) return false;
  }
  // "1. Buy" at the start of a line is a list marker, not a sentence.
  const line = before.slice(before.lastIndexOf('\n') + 1).trim();
  return !/^\d{1,2}$/.test(line);
}

function softCut(text: string, maxChars: number): number {
  const window = text.slice(0, maxChars);
  const at = Math.max(window.lastIndexOf(', '), window.lastIndexOf('; '), window.lastIndexOf(': '));
  if (at > maxChars / 2) return at + 1;
  const space = window.lastIndexOf(' ');
  return space > 0 ? space : maxChars;
}

/**
 * Text as it should be spoken: markdown and link syntax removed, pairs read
 * as words ("BTC/USDT" → "BTC USDT"), bare URLs dropped.
 */
export function toSpeakable(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/https?:\/\/\S+/g, '')
    .replace(/`+/g, '')
    .replace(/(\*\*|__|\*|~~)/g, '')
    .replace(/^\s*(#{1,6}|[-•>]|\d{1,2}\.)\s+/gm, '')
    .replace(/\b([A-Z0-9]{2,15})\/([A-Z0-9]{2,10})\b/g, '$1 $2')
    .replace(/\s+/g, ' ')
    .trim();
}
