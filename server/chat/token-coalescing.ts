/**
 * How long an answer's later tokens are held to share one `chat:token`.
 *
 * Every event is a socket write (a system call, the dearest part of relaying a
 * token on this kind of VM), so the process keeps its token events under a
 * budget per second: with few answers streaming each gets the short window
 * (one frame), with many the window widens so that all of them together stay
 * near `eventsPerSecond`. The first token of an answer never waits (it is the
 * time to first token), and the last one goes out as the answer ends; only the
 * cadence in between changes, never the text.
 */
export interface CoalescingOptions {
  /** The window with few answers streaming (0 with no budget = one event per provider token). */
  minMs: number;
  /** Token events per second this process aims to stay under (0 = no budget: always `minMs`). */
  eventsPerSecond: number;
  /** Never wider than this, whatever the load (a reader still sees text arrive). */
  maxMs?: number;
}

export const MAX_COALESCE_MS = 100;

export function coalesceWindowMs(streaming: number, options: CoalescingOptions): number {
  if (options.eventsPerSecond <= 0) return options.minMs;
  const share = (Math.max(1, streaming) * 1000) / options.eventsPerSecond;
  return Math.min(options.maxMs ?? MAX_COALESCE_MS, Math.max(options.minMs, Math.ceil(share)));
}
