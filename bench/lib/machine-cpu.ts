import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * CPU every `postgres` process on the machine used over an interval, in
 * seconds (/proc/<pid>/stat, all backends and the server's own processes):
 * the database's side of a phase, which the server's own CPU leaves out.
 * A process that exits within the interval is missed (a lower bound; pools
 * keep their backends). Undefined where /proc does not exist.
 */
export function startPostgresCpu(): () => number | undefined {
  const before = postgresTicks();
  return () => {
    const after = postgresTicks();
    if (!before || !after) return undefined;
    let ticks = 0;
    for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
    return ticks / 100; // USER_HZ is 100 on Linux
  };
}

function postgresTicks(): Map<number, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== 'postgres') continue;
      // Fields after the command name: utime is field 14, stime 15.
      const rest = stat.slice(close + 2).split(' ');
      ticks.set(Number(pid), Number(rest[11]) + Number(rest[12]));
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks;
}
