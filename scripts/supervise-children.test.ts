import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_POLICY } from './restart-policy';
import { superviseChildren } from './supervise-children';

/** Tiny real processes: the supervisor is about processes, so no fakes. */
const node = (script: string): ChildProcess => spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
const IDLE = 'setInterval(() => undefined, 1000);';
const silent = pino({ level: 'silent' });

describe('superviseChildren', () => {
  it('SIGKILLs a child that ignores SIGTERM once the grace period is over', async () => {
    const spawned: ChildProcess[] = [];
    const supervisor = superviseChildren({
      names: ['stubborn'],
      spawn: () => {
        const child = spawn(process.execPath, ['-e', `process.on('SIGTERM', () => undefined); process.stdout.write('ready'); ${IDLE}`], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        spawned.push(child);
        return child;
      },
      log: silent,
      policy: DEFAULT_RESTART_POLICY,
      stopGraceMs: 1000,
    });
    // The child says when its handler is installed (a loaded machine can take seconds to start node).
    await new Promise((resolve) => spawned[0]!.stdout!.once('data', resolve));
    const started = Date.now();
    await supervisor.stop(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(spawned).toHaveLength(1);
    expect(spawned[0]!.signalCode).toBe('SIGKILL');
    expect(await supervisor.done).toEqual({ code: 0 });
  });

  it('restarts a child killed by a signal, and does not restart it once stopping', async () => {
    const spawned: ChildProcess[] = [];
    const supervisor = superviseChildren({
      names: ['worker'],
      spawn: () => {
        const child = node(IDLE);
        spawned.push(child);
        return child;
      },
      log: silent,
      policy: { ...DEFAULT_RESTART_POLICY, initialDelayMs: 100 },
      stopGraceMs: 5000,
    });
    spawned[0]!.kill('SIGKILL');
    for (let i = 0; i < 50 && spawned.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(spawned).toHaveLength(2);
    expect(spawned[0]!.signalCode).toBe('SIGKILL');
    await supervisor.stop(0);
    expect(spawned[1]!.signalCode).toBe('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(spawned).toHaveLength(2);
  });
});
