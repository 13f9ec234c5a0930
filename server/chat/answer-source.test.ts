import { describe, expect, it } from 'vitest';
import { createTokenRelay, playCachedAnswer, type DeltaSource } from './answer-source';

const grok: DeltaSource = { provider: 'xai', model: 'grok' };

describe('token relay: nothing reaches the user before the answer is accepted', () => {
  it('holds deltas until attached, replays them in order, then passes them straight through', () => {
    const relay = createTokenRelay();
    const seen: string[] = [];
    relay.push('BTC ', grok);
    relay.push('is ', grok);
    expect(seen).toEqual([]);
    relay.attach((delta, source) => seen.push(`${source.provider}:${delta}`));
    expect(seen).toEqual(['xai:BTC ', 'xai:is ']);
    relay.push('long.', grok);
    expect(seen).toEqual(['xai:BTC ', 'xai:is ', 'xai:long.']);
  });
});

describe('playing a cached answer', () => {
  const answer = { text: '  BTC/USDT 1h is long at 97,500;\nstop 95,800.  ', provider: 'xai', model: 'grok', outputTokens: 12 };

  it('delivers the exact text, word by word, as the cache with the original model', () => {
    const pieces: string[] = [];
    const played = playCachedAnswer(answer, (delta, source) => {
      expect(source).toEqual({ provider: 'cache', model: 'grok' });
      pieces.push(delta);
    }, new AbortController().signal);
    expect(played).toEqual({ text: answer.text, complete: true });
    expect(pieces.join('')).toBe(answer.text);
    expect(pieces.length).toBeGreaterThan(3);
  });

  it('stops where the user aborted', () => {
    const abort = new AbortController();
    const played = playCachedAnswer(answer, () => abort.abort(), abort.signal);
    expect(played.complete).toBe(false);
    expect(answer.text.startsWith(played.text)).toBe(true);
    expect(played.text.length).toBeLessThan(answer.text.length);
  });
});
