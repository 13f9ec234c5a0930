import { describe, expect, it } from 'vitest';
import { createSentenceChunker, toSpeakable } from './sentence-chunker';

/** Feeds `text` in pieces of `size` characters; returns every sentence, in order. */
function chunk(text: string, size: number, maxChars?: number): string[] {
  const c = createSentenceChunker({ maxChars });
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...c.push(text.slice(i, i + size)));
  return [...out, ...c.flush()];
}

describe('sentence chunker', () => {
  it.each([
    [
      'BTC is at 97,500.50. Next target is 100k! Why? Because e.g. the U.S. market opens at 9 a.m. today.',
      ['BTC is at 97,500.50.', 'Next target is 100k!', 'Why?', 'Because e.g. the U.S. market opens at 9 a.m. today.'],
    ],
    ['Entry approx. 3,480.25 vs. stop 3,560. Risk is high.', ['Entry approx. 3,480.25 vs. stop 3,560.', 'Risk is high.']],
    ['Fed chair J. Powell spoke. Markets fell 2.5%.', ['Fed chair J. Powell spoke.', 'Markets fell 2.5%.']],
    ['He said "go long." Then it dumped...', ['He said "go long."', 'Then it dumped...']],
    ['Levels:\n1. Entry 97,500.\n2. Stop 96,000.', ['Levels:', '1. Entry 97,500.', '2. Stop 96,000.']],
    ['Wait… What?! OK', ['Wait…', 'What?!', 'OK']],
    ['No terminator at the end', ['No terminator at the end']],
    ['**Bold** start.\n\n---\n\nEnd', ['**Bold** start.', 'End']],
    ['Price 0.00001234 today. Done.', ['Price 0.00001234 today.', 'Done.']],
  ])('%j', (text, expected) => {
    // The same sentences whatever the token sizes.
    for (const size of [1, 3, 7, 1000]) expect(chunk(text, size)).toEqual(expected);
  });

  it('emits a sentence as soon as the next one starts, before the end of the stream', () => {
    const c = createSentenceChunker();
    expect(c.push('BTC is at 97,500.50.')).toEqual([]); // could be "97,500.50.1" or an abbreviation
    expect(c.push(' ')).toEqual([]);
    expect(c.push('Next')).toEqual(['BTC is at 97,500.50.']);
    expect(c.push(' one is soon.\n')).toEqual(['Next one is soon.']);
    expect(c.flush()).toEqual([]);
  });

  it('splits an over-long run at a comma, else at a space', () => {
    const long = `${'word '.repeat(20)}then, ${'more '.repeat(20)}end`;
    const parts = chunk(long, 5, 120);
    expect(parts.every((p) => p.length <= 120)).toBe(true);
    expect(parts[0]!.endsWith('then,')).toBe(true);
    expect(parts.join(' ').replace(/\s+/g, ' ')).toBe(long.replace(/\s+/g, ' ').trim());
  });
});

describe('toSpeakable', () => {
  it.each([
    ['**BTC/USDT** is `LONG`.', 'BTC USDT is LONG.'],
    ['See [the chart](https://x.y/z) now', 'See the chart now'],
    ['## Summary', 'Summary'],
    ['- first point', 'first point'],
    ['1. Entry at 97,500.5', 'Entry at 97,500.5'],
    ['Docs: https://example.com/page.', 'Docs:'],
  ])('%j → %j', (input, expected) => expect(toSpeakable(input)).toBe(expected));
});
