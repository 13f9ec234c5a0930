import { writeFile } from 'node:fs/promises';
import { Session, type Profiler } from 'node:inspector/promises';

/**
 * Profiles this process's CPU between start() and stop(file) with the
 * inspector (what `--cpu-prof` does, but only around the measured phase).
 * Open the written .cpuprofile in Chrome DevTools or speedscope.
 */
export async function startCpuProfile(): Promise<{ stop(file: string): Promise<Profiler.Profile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      return profile;
    },
  };
}

/** Where a frame's code lives: a package under node_modules, a file of ours, or the runtime. */
export function ownerOf(url: string): string {
  if (!url) return '(runtime)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const ours = /\/((?:server|common|pipeline|bench|test)\/.+)$/.exec(url);
  return ours ? ours[1]! : url;
}

/**
 * Self time of a profile, as printable lines: the top `top` functions, then
 * the share of each package / file of ours (what the openai SDK, socket.io,
 * pg … cost as a whole). Idle and GC are listed as the profiler names them.
 */
export function summarizeCpuProfile(profile: Profiler.Profile, top: number): string[] {
  const byNode = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) byNode.set(samples[i]!, (byNode.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const fns = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    if (!us) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = ownerOf(url);
    const name = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    owners.set(where, (owners.get(where) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / Math.max(1, total)) * 100).toFixed(1).padStart(5)} %`;
  const rank = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return [
    `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms; self time, share of busy:`,
    ...rank(fns, top).map(([name, us]) => `  ${pct(us)}  ${name}`),
    'by package / file:',
    ...rank(owners, top).map(([name, us]) => `  ${pct(us)}  ${name}`),
  ];
}
