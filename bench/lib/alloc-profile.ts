import { writeFile } from 'node:fs/promises';
import { Session, type HeapProfiler } from 'node:inspector/promises';
import { ownerOf } from './cpu-profile';

/**
 * Samples this process's allocations between start() and stop(file) with
 * V8's sampling heap profiler, counting objects the GC has already collected
 * too: what the young generation churns through, not what is left at the end.
 * Open the written .heapprofile in Chrome DevTools (Memory tab).
 */
export async function startAllocationProfile(): Promise<{ stop(file: string): Promise<HeapProfiler.SamplingHeapProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stop(file) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      return profile;
    },
  };
}

/** Bytes allocated per function (self) and per package / file of ours, as printable lines. */
export function summarizeAllocationProfile(profile: HeapProfiler.SamplingHeapProfile, top: number, perUnit?: { count: number; unit: string }): string[] {
  const fns = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapProfiler.SamplingHeapProfileNode) => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = ownerOf(url);
      const name = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
      fns.set(name, (fns.get(name) ?? 0) + node.selfSize);
      owners.set(where, (owners.get(where) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1).padStart(7)} MB`;
  const per = (b: number) => (perUnit && perUnit.count > 0 ? `  ${(b / perUnit.count).toFixed(0).padStart(6)} B/${perUnit.unit}` : '');
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `allocated ${mb(total).trim()}${per(total)}; by function (self):`,
    ...rank(fns).map(([name, b]) => `  ${mb(b)}${per(b)}  ${name}`),
    'by package / file:',
    ...rank(owners).map(([name, b]) => `  ${mb(b)}${per(b)}  ${name}`),
  ];
}
