import { afterEach, describe, expect, it } from 'vitest';
import type { ChatSink } from './answer-registry';
import { createAnswerRegistry, type AnswerRegistry } from './answer-registry';

const sink = (): ChatSink => ({ token: () => undefined, audio: () => undefined, error: () => undefined, done: () => undefined });
const finish = (registry: AnswerRegistry, id: string) =>
  registry.create('u', id, sink()).sink.done({ id, provider: 'xai', model: 'grok', usage: { inputTokens: 1, outputTokens: 1, voiceCharacters: 0, estimated: false }, credits: { charged: 1, balance: 9 }, status: 'complete', conversationId: 'c' });

describe('answer registry', () => {
  let registry: AnswerRegistry | undefined;
  afterEach(() => registry?.close());

  it('keeps at most maxAnswers: the oldest finished answer goes first, answers still streaming stay', () => {
    registry = createAnswerRegistry({ maxAnswers: 3 });
    registry.create('u', 'streaming', sink());
    finish(registry, 'a');
    finish(registry, 'b');
    finish(registry, 'c');
    expect(registry.get('u', 'streaming')).toBeDefined();
    expect(registry.get('u', 'a')).toBeUndefined();
    expect(registry.get('u', 'b')?.finished).toBe(true);
    finish(registry, 'd');
    expect(registry.get('u', 'b')).toBeUndefined();
    expect(['streaming', 'c', 'd'].map((id) => registry!.get('u', id) !== undefined)).toEqual([true, true, true]);
  });
});
