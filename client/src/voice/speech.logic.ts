/**
 * When the server cannot speak an answer (`voice_unavailable`) the browser's
 * speechSynthesis does, sentence by sentence as the text streams in, so the
 * trader does not wait for the whole answer. Pure helpers for that.
 */

/** Markdown the model writes that should not be read aloud. */
export function speakable(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?(```|$)/g, ' ') // code blocks (also an unfinished one)
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '')
    .replace(/[*_~|]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Sentences that are complete in `text` beyond the `spokenUpTo` offset.
 * A sentence ends at . ! ? or a newline followed by whitespace (so "1.5" or
 * "e.g.BTC" mid-token do not split); when `final`, the rest is one more sentence.
 */
export function takeSentences(text: string, spokenUpTo: number, final: boolean): { sentences: string[]; spokenUpTo: number } {
  const sentences: string[] = [];
  let cursor = spokenUpTo;
  const boundary = /[.!?…]+["')\]]*\s+|\n\s*\n/g;
  boundary.lastIndex = spokenUpTo;
  for (let match = boundary.exec(text); match; match = boundary.exec(text)) {
    const end = match.index + match[0].length;
    push(sentences, text.slice(cursor, end));
    cursor = end;
  }
  if (final && cursor < text.length) {
    push(sentences, text.slice(cursor));
    cursor = text.length;
  }
  return { sentences, spokenUpTo: cursor };
}

function push(out: string[], raw: string) {
  const s = speakable(raw);
  if (/[\p{L}\p{N}]/u.test(s)) out.push(s);
}
