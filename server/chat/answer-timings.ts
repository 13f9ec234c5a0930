import { channel } from 'node:diagnostics_channel';

/**
 * Per-stage timings of the answer path, for benchmarks and diagnostics:
 * published on a diagnostics_channel (node:diagnostics_channel), so nothing
 * is measured or allocated unless someone subscribes (bench/chat.ts does).
 * Each stage is the ms from `chat:send` received to the end of that stage.
 */
export const ANSWER_TIMINGS_CHANNEL = 'zmarty:chat:answer-timings';

export interface AnswerTimings {
  requestId: string;
  /** Stage → ms since the request was received. */
  stages: Record<string, number>;
}

const timings = channel(ANSWER_TIMINGS_CHANNEL);

export interface StageClock {
  mark(stage: string): void;
  /** Publishes the marks once (later calls do nothing). */
  publish(requestId: string): void;
}

const OFF: StageClock = { mark: () => undefined, publish: () => undefined };

export function startStageClock(): StageClock {
  if (!timings.hasSubscribers) return OFF;
  const t0 = performance.now();
  const stages: Record<string, number> = {};
  let published = false;
  return {
    mark(stage) {
      stages[stage] ??= performance.now() - t0;
    },
    publish(requestId) {
      if (published) return;
      published = true;
      timings.publish({ requestId, stages } satisfies AnswerTimings);
    },
  };
}
