import { describe, expect, it } from 'vitest';
import type { ChatDoneEvent } from '../../../common/events';
import { applyToken, chatReducer, displayStatus, emptyChat, errorText, isInProgress, newAnswer, reconnectActions, resumeFromSeq, voiceNoticeAnswerId, type ChatAction, type ChatState } from './stream.logic';

function done(id: string, status: ChatDoneEvent['status'], charged = 3): ChatDoneEvent {
  return {
    id,
    provider: 'openai',
    model: 'gpt-x',
    usage: { inputTokens: 10, outputTokens: 5, voiceCharacters: 0, estimated: status !== 'complete' },
    credits: { charged, balance: 97 },
    status,
    conversationId: 'c-1',
  };
}

function run(actions: ChatAction[], state: ChatState = emptyChat): ChatState {
  return actions.reduce(chatReducer, state);
}

const tok = (seq: number, delta: string, id = 'a'): ChatAction => ({ type: 'token', id, seq, delta });

describe('token assembly', () => {
  it.each([
    { name: 'in order', seqs: [0, 1, 2], text: 'The quick fox', held: 0 },
    { name: 'out of order', seqs: [2, 0, 1], text: 'The quick fox', held: 0 },
    { name: 'duplicates from a resume replay', seqs: [0, 1, 0, 1, 2, 2], text: 'The quick fox', held: 0 },
    { name: 'gap holds later deltas back', seqs: [0, 2], text: 'The', held: 1 },
  ])('$name', ({ seqs, text, held }) => {
    const parts = ['The', ' quick', ' fox'];
    let answer = newAnswer('a', 'q', false);
    for (const seq of seqs) answer = applyToken(answer, seq, parts[seq]!);
    expect(answer.text).toBe(text);
    expect(Object.keys(answer.ahead)).toHaveLength(held);
    expect(answer.status).toBe('streaming');
  });

  it('ignores invalid seq values', () => {
    const answer = newAnswer('a', 'q', false);
    expect(applyToken(answer, -1, 'x')).toBe(answer);
    expect(applyToken(answer, 1.5, 'x')).toBe(answer);
  });

  it('resumes from the last contiguous seq', () => {
    let answer = newAnswer('a', 'q', false);
    expect(resumeFromSeq(answer)).toBe(-1);
    answer = applyToken(answer, 0, 'a');
    answer = applyToken(answer, 1, 'b');
    answer = applyToken(answer, 3, 'd');
    expect(resumeFromSeq(answer)).toBe(1);
  });
});

describe('status transitions', () => {
  it('pending → streaming → complete, with provider and cost', () => {
    let state = run([{ type: 'send', id: 'a', question: 'hi', voice: false }]);
    expect(state.answers[0]!.status).toBe('pending');
    expect(displayStatus(state.answers[0]!)).toBe('streaming');
    state = run([tok(0, 'Hello'), { type: 'done', event: done('a', 'complete') }], state);
    const answer = state.answers[0]!;
    expect(answer).toMatchObject({ status: 'complete', text: 'Hello', provider: 'openai', model: 'gpt-x', charged: 3, estimated: false });
    expect(isInProgress(answer)).toBe(false);
  });

  it('tokens after the end are ignored', () => {
    const state = run([{ type: 'send', id: 'a', question: 'hi', voice: false }, tok(0, 'Hi'), { type: 'done', event: done('a', 'aborted') }, tok(1, ' late')]);
    expect(state.answers[0]).toMatchObject({ status: 'aborted', text: 'Hi', estimated: true });
  });

  it('done flushes deltas held beyond a gap in order', () => {
    const state = run([{ type: 'send', id: 'a', question: 'q', voice: false }, tok(0, 'A'), tok(3, 'D'), tok(2, 'C'), { type: 'done', event: done('a', 'incomplete') }]);
    expect(state.answers[0]).toMatchObject({ text: 'ACD', status: 'incomplete', ahead: {} });
  });

  it('an error ends the answer; a later incomplete done keeps the error', () => {
    let state = run([{ type: 'send', id: 'a', question: 'q', voice: false }, tok(0, 'Part')]);
    state = run([{ type: 'error', event: { id: 'a', code: 'provider_unavailable', message: 'down' } }], state);
    expect(state.answers[0]).toMatchObject({ status: 'error', error: { code: 'provider_unavailable' } });
    state = run([{ type: 'done', event: done('a', 'incomplete', 1) }], state);
    expect(state.answers[0]).toMatchObject({ status: 'incomplete', charged: 1, error: { code: 'provider_unavailable' } });
  });

  it('voice_unavailable does not end the answer', () => {
    const state = run([
      { type: 'send', id: 'a', question: 'q', voice: true },
      tok(0, 'Hi'),
      { type: 'error', event: { id: 'a', code: 'voice_unavailable', message: 'tts down' } },
      tok(1, ' there'),
    ]);
    expect(state.answers[0]).toMatchObject({ status: 'streaming', voiceUnavailable: true, text: 'Hi there' });
  });

  it('stop is requested once and only while in progress', () => {
    const state = run([{ type: 'send', id: 'a', question: 'q', voice: false }, { type: 'stop_requested', id: 'a' }]);
    expect(state.answers[0]!.stopRequested).toBe(true);
    expect(chatReducer(state, { type: 'stop_requested', id: 'a' })).toBe(state);
    const finished = run([{ type: 'done', event: done('a', 'aborted') }, { type: 'stop_requested', id: 'a' }], state);
    expect(finished.answers[0]!.status).toBe('aborted');
  });

  it('connection loss marks only answers in progress; resume clears it; failed resume ends as incomplete', () => {
    let state = run([
      { type: 'send', id: 'old', question: 'q1', voice: false },
      { type: 'done', event: done('old', 'complete') },
      { type: 'send', id: 'a', question: 'q2', voice: false },
      tok(0, 'x', 'a'),
      { type: 'send', id: 'b', question: 'q3', voice: false },
      { type: 'connection_lost' },
    ]);
    expect(state.answers.map((a) => a.interrupted)).toEqual([false, true, true]);
    expect(chatReducer(state, { type: 'connection_lost' })).toBe(state);
    state = run([{ type: 'resumed', id: 'a' }, { type: 'resume_failed', id: 'b', message: 'gone' }], state);
    expect(state.answers[1]).toMatchObject({ interrupted: false, status: 'streaming' });
    expect(state.answers[2]).toMatchObject({ interrupted: false, status: 'incomplete', error: { code: 'connection_lost' } });
  });

  it('on reconnect sends again a question whose ack was lost, leaves one still buffered, and resumes the other answers in progress', () => {
    const state = run([
      { type: 'send', id: 'done', question: 'q0', voice: false },
      { type: 'done', event: done('done', 'complete') },
      { type: 'send', id: 'streaming', question: 'q1', voice: false },
      tok(0, 'x', 'streaming'),
      { type: 'send', id: 'lost', question: 'q2', voice: false },
      { type: 'send', id: 'buffered', question: 'q3', voice: false },
      { type: 'send', id: 'unacked', question: 'q4', voice: false },
      { type: 'connection_lost' },
    ]);
    const actions = reconnectActions(state.answers, { lost: new Set(['lost']), buffered: new Set(['buffered']) });
    expect(actions.map(({ answer, action }) => ({ id: answer.id, action }))).toEqual([
      { id: 'streaming', action: 'resume' },
      { id: 'lost', action: 'send' },
      // Acknowledged, no token yet: the server has it.
      { id: 'unacked', action: 'resume' },
    ]);
  });

  it('a resume refused with answer_lost keeps the text received and says the answer was lost, not the connection', () => {
    const state = run([
      { type: 'send', id: 'a', question: 'q', voice: false },
      tok(0, 'BTC ', 'a'),
      { type: 'connection_lost' },
      { type: 'resume_failed', id: 'a', message: 'server stopped', code: 'answer_lost' },
    ]);
    expect(state.answers[0]).toMatchObject({ text: 'BTC ', status: 'incomplete', interrupted: false, error: { code: 'answer_lost' } });
    expect(errorText(state.answers[0]!.error!)).toMatch(/stopped before it finished/);
  });

  it('send with a known id is idempotent; clear keeps answers in progress', () => {
    let state = run([{ type: 'send', id: 'a', question: 'q', voice: false }, { type: 'send', id: 'a', question: 'again', voice: false }]);
    expect(state.answers).toHaveLength(1);
    state = run([{ type: 'send', id: 'b', question: 'q', voice: false }, { type: 'done', event: done('a', 'complete') }, { type: 'clear' }], state);
    expect(state.answers.map((a) => a.id)).toEqual(['b']);
  });
});

describe('errorText', () => {
  it.each([
    ['insufficient_credits', /out of credits/],
    ['rate_limited', /Too many/],
    ['provider_unavailable', /unavailable/],
    ['something_else', /^server says$/],
  ])('%s', (code, pattern) => {
    expect(errorText({ code, message: 'server says' })).toMatch(pattern);
  });
});

describe('voice-unavailable notice', () => {
  const a = (id: string, voice: boolean, voiceUnavailable: boolean) => ({ id, voice, voiceUnavailable });

  it('shows once per session: on the first voiced answer the server could not speak, not on every later one', () => {
    const answers = [a('q1', false, false), a('q2', true, true), a('q3', true, true)];
    expect(voiceNoticeAnswerId(answers, null)).toBe('q2');
    expect(voiceNoticeAnswerId(answers, 'q2')).toBe('q2');
    expect(voiceNoticeAnswerId([a('q1', true, false), a('q2', false, true)], null)).toBeNull();
  });

  it('once shown, a reload or another conversation that no longer lists that answer shows none', () => {
    expect(voiceNoticeAnswerId([a('q7', true, true), a('q8', true, true)], 'q2')).toBeNull();
  });
});
