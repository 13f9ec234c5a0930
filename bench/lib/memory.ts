import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * A way to force a full GC, so memory deltas measure what is retained rather
 * than garbage waiting to be collected: `global.gc` under --expose-gc, or the
 * same function obtained by setting the flag at runtime. Undefined if neither
 * works (then deltas include uncollected garbage; the caller says so).
 */
export function obtainGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Collects (twice, letting finalizers and weak callbacks run in between), then samples. */
export async function settledMemory(gc: (() => void) | undefined): Promise<MemorySnapshot> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}
