import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { processCpuSeconds } from './pg-census';

/**
 * CPU the whole machine used (every process: the mock, the clients, the
 * server, the database) over an interval, in cores, from /proc/stat. On a
 * 2-core machine a phase near 2 cores has no headroom: its latencies are
 * those of a saturated machine, for the direct baseline too. Undefined where
 * /proc/stat does not exist.
 */
export function startMachineCpu(): () => number | undefined {
  const before = readTicks();
  return () => {
    const after = readTicks();
    if (!before || !after || after.total <= before.total) return undefined;
    return ((after.busy - before.busy) / (after.total - before.total)) * os.cpus().length;
  };
}

function readTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const idleAll = idle! + iowait!;
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy, total: busy + idleAll };
  } catch {
    return undefined;
  }
}

/**
 * CPU every `postgres` process on the machine used over an interval, in
 * seconds (all backends and the server's own processes): the database's side
 * of a phase, which the server's own CPU leaves out. A process that exits
 * within the interval is missed (a lower bound; pools keep their backends).
 * Undefined where /proc does not exist.
 */
export function startPostgresCpu(): () => number | undefined {
  const before = postgresCpuSeconds();
  return () => {
    const after = postgresCpuSeconds();
    if (!before || !after) return undefined;
    let seconds = 0;
    for (const [pid, s] of after) seconds += s - (before.get(pid) ?? 0);
    return seconds;
  };
}

function postgresCpuSeconds(): Map<number, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    let command: string;
    try {
      command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (command !== 'postgres') continue;
    const s = processCpuSeconds(Number(pid));
    if (s !== undefined) seconds.set(Number(pid), s);
  }
  return seconds;
}
