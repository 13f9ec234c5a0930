/**
 * Provider `local`: the offline default when no provider key is configured.
 * Streams `composeAnalystAnswer` token by token (o200k tokens, a few ms
 * apart) so the client path is the same as with a real model. Usage is
 * counted with the same tokenizer and is exact for this provider, so
 * `estimated` is false — an abort counts the tokens actually emitted.
 */
import { decode, encode } from 'gpt-tokenizer';
import type { ProviderAdapter, ProviderOutcome, ProviderTurn } from './router.types';
import { composeAnalystAnswer } from './local-analyst.answer';
import { estimatePromptTokens } from './usage-meter';
import { sleepUnlessAborted } from './sleep';

export interface LocalAnalystOptions {
  /** Delay between tokens (default 4 ms); 0 streams as fast as possible. */
  tokenDelayMs?: number;
  model?: string;
}

export const LOCAL_MODEL = 'zmarty-local-analyst';

export function createLocalAnalystProvider(options: LocalAnalystOptions = {}): ProviderAdapter {
  const delay = options.tokenDelayMs ?? 4;
  return {
    name: 'local',
    model: options.model ?? LOCAL_MODEL,
    run: async (turn: ProviderTurn): Promise<ProviderOutcome> => {
      const inputTokens = estimatePromptTokens({ system: turn.system, messages: turn.messages });
      // The prompt's messages are the conversation's recent turns then this question: follow-ups resolve against them.
      const history = turn.prompt.messages.slice(0, -1);
      const tokens = encode(composeAnalystAnswer({ ...turn.prompt.input, history }));
      let text = '';
      let emitted = 0;
      turn.onRequestStart();
      for (let i = 0; i < tokens.length; i++) {
        if (i > 0 && delay > 0) await sleepUnlessAborted(delay, turn.signal);
        if (turn.signal.aborted) break;
        // Decode the prefix so that a character split across tokens is emitted whole.
        const next = decode(tokens.slice(0, i + 1));
        if (next.endsWith('\uFFFD') && i < tokens.length - 1) continue;
        const delta = next.slice(text.length);
        emitted = i + 1;
        if (delta.length === 0) continue;
        text = next;
        turn.onActivity();
        turn.onToken(delta);
      }
      return { text, usage: { inputTokens, outputTokens: emitted, estimated: false }, finished: !turn.signal.aborted, toolCalls: [] };
    },
  };
}
