import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../lib/api.client';
import { answerFromInFlight, answersFromMessages, inFlightOf, parseInFlight } from './history.logic';
import { chatReducer, resumeFromSeq } from './stream.logic';

const message = (requestId: string, role: 'user' | 'assistant', content: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  id: 0,
  requestId,
  role,
  content,
  provider: role === 'assistant' ? 'xai' : null,
  model: role === 'assistant' ? 'grok' : null,
  status: role === 'assistant' ? 'complete' : null,
  credits: role === 'assistant' ? 2 : null,
  createdAt: '2025-01-01T00:00:00.000Z',
  completedAt: null,
  ...extra,
});

describe('stored conversations shown as answers', () => {
  it('pairs each question with its answer by request id, in order, with provider, status and cost', () => {
    const answers = answersFromMessages([
      message('a', 'user', 'BTC?'),
      message('a', 'assistant', 'BTC is long.'),
      message('b', 'user', 'and ETH?'),
      message('b', 'assistant', 'ETH is fl', { status: 'aborted', credits: 1 }),
    ]);
    expect(answers.map((a) => [a.id, a.question, a.text, a.status, a.provider, a.charged])).toEqual([
      ['a', 'BTC?', 'BTC is long.', 'complete', 'xai', 2],
      ['b', 'and ETH?', 'ETH is fl', 'aborted', 'xai', 1],
    ]);
  });

  it('shows a question without a stored answer as cut short, and hides the "none" provider of a failed answer', () => {
    const answers = answersFromMessages([
      message('a', 'user', 'BTC?'),
      message('b', 'user', 'ETH?'),
      message('b', 'assistant', '', { provider: 'none', model: 'none', status: 'incomplete', credits: 0 }),
    ]);
    expect(answers.map((a) => [a.id, a.status, a.provider])).toEqual([
      ['a', 'incomplete', undefined],
      ['b', 'incomplete', undefined],
    ]);
  });
});

describe('the answer in flight across a reload', () => {
  it('round-trips through storage and resumes after the last seq it holds, keeping its text', () => {
    let state = chatReducer({ answers: [] }, { type: 'send', id: 'r1', question: 'BTC?', voice: false });
    state = chatReducer(state, { type: 'token', id: 'r1', seq: 0, delta: 'BTC ' });
    state = chatReducer(state, { type: 'token', id: 'r1', seq: 1, delta: 'is ' });
    const saved = parseInFlight(JSON.stringify(inFlightOf(state.answers[0]!, 'c1')))!;
    expect(saved).toEqual({ id: 'r1', conversationId: 'c1', question: 'BTC?', voice: false, text: 'BTC is ', nextSeq: 2 });

    const restored = answerFromInFlight(saved);
    expect(resumeFromSeq(restored)).toBe(1);
    let after = chatReducer({ answers: [restored] }, { type: 'token', id: 'r1', seq: 1, delta: 'is ' }); // replayed duplicate
    after = chatReducer(after, { type: 'token', id: 'r1', seq: 2, delta: 'long.' });
    expect(after.answers[0]!.text).toBe('BTC is long.');
  });

  it('ignores what is not an in-flight record', () => {
    expect(parseInFlight(null)).toBeNull();
    expect(parseInFlight('not json')).toBeNull();
    expect(parseInFlight(JSON.stringify({ id: 'x' }))).toBeNull();
  });
});
