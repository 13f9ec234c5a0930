import { readFileSync } from 'node:fs';
import os from 'node:os';

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
