import { describe, expect, it } from 'vitest';
import { speakable, takeSentences } from './speech.logic';

describe('takeSentences', () => {
  it('streams complete sentences as the text grows, never repeating one', () => {
    const stream = ['BTC is up 1.5', '% today. ETH', ' lags! What next? Watch the', ' 4h close'];
    let text = '';
    let spokenUpTo = 0;
    const spoken: string[][] = [];
    stream.forEach((delta, i) => {
      text += delta;
      const r = takeSentences(text, spokenUpTo, i === stream.length - 1);
      spokenUpTo = r.spokenUpTo;
      spoken.push(r.sentences);
    });
    expect(spoken).toEqual([[], ['BTC is up 1.5% today.'], ['ETH lags!', 'What next?'], ['Watch the 4h close']]);
    expect(spokenUpTo).toBe(text.length);
  });

  it('splits on blank lines and skips pieces with nothing to say', () => {
    expect(takeSentences('## Summary\n\n- Long above 100\n\n---\n\n', 0, true).sentences).toEqual(['Summary', 'Long above 100']);
  });
});

describe('speakable', () => {
  it.each([
    ['**Bold** and _italic_', 'Bold and italic'],
    ['See [the chart](https://x.y/z)', 'See the chart'],
    ['Use `RSI`', 'Use RSI'],
    ['Code:\n```js\nconsole.log(1)\n```\nDone', 'Code: Done'],
    ['1. First\n2. Second', 'First Second'],
  ])('%j → %j', (input, expected) => {
    expect(speakable(input)).toBe(expected);
  });
});
