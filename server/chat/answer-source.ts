import type { CachedAnswer } from './answer-cache';

/** Who produced a delta: a provider's model, or the answer cache (with the model that first wrote the answer). */
export interface DeltaSource {
  provider: string;
  model: string;
}

export type DeltaHandler = (delta: string, source: DeltaSource) => void;

/**
 * Holds a provider's deltas until the answer is accepted. The provider call
 * may start while the credits are still being reserved (its first token takes
 * longer than the reservation); nothing reaches the user before `attach`,
 * which replays what was held, in order, then passes deltas straight through.
 */
export function createTokenRelay() {
  let target: DeltaHandler | undefined;
  let held: Array<[string, DeltaSource]> = [];
  return {
    push(delta: string, source: DeltaSource): void {
      if (target) target(delta, source);
      else held.push([delta, source]);
    },
    attach(handler: DeltaHandler): void {
      target = handler;
      const replay = held;
      held = [];
      for (const [delta, source] of replay) handler(delta, source);
    },
  };
}

export type TokenRelay = ReturnType<typeof createTokenRelay>;

/**
 * Plays a cached answer through the same delta path as a provider's stream
 * (coalescing, voice, the resume log), word by word, all at once: there is
 * no provider to wait for. Returns what was delivered.
 */
export function playCachedAnswer(answer: CachedAnswer, onDelta: DeltaHandler, signal: AbortSignal): { text: string; complete: boolean } {
  const source = { provider: 'cache', model: answer.model };
  let text = '';
  for (const piece of answer.text.match(/\s*\S+\s*/g) ?? []) {
    if (signal.aborted) return { text, complete: false };
    text += piece;
    onDelta(piece, source);
  }
  return { text, complete: true };
}
