import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger';
import { decideRestart, NO_CRASHES, type CrashHistory, type RestartPolicy } from './restart-policy';

export interface SupervisorOptions {
  names: readonly string[];
  spawn(name: string): ChildProcess;
  log: Logger;
  policy: RestartPolicy;
  /** How long a child gets to exit after SIGTERM before it is SIGKILLed. */
  stopGraceMs: number;
  now?: () => number;
}

export interface Supervisor {
  /** Stops every child (SIGTERM, then SIGKILL after the grace period); resolves when all have exited. */
  stop(code: number): Promise<{ code: number }>;
  /** Resolves once every child has exited for good: after stop(), or after giving up on a crashing child. */
  done: Promise<{ code: number }>;
}

interface Slot {
  child?: ChildProcess;
  /** Settles on the current child's `exit` event. */
  exited?: Promise<void>;
  history: CrashHistory;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Runs the children and keeps them running: a child that exits on its own
 * (a crash, or a kill -9) is restarted with backoff, and after repeated
 * crashes the supervisor gives up and stops the rest. Whether a child is
 * alive is tracked from its `exit` event, never from `exitCode`, which stays
 * null for a child killed by a signal.
 */
export function superviseChildren(options: SupervisorOptions): Supervisor {
  const { log, policy } = options;
  const now = options.now ?? Date.now;
  const slots = new Map<string, Slot>(options.names.map((n) => [n, { history: NO_CRASHES }]));
  let stopping: Promise<{ code: number }> | undefined;
  let finish!: (result: { code: number }) => void;
  const done = new Promise<{ code: number }>((resolve) => (finish = resolve));

  const launch = (name: string) => {
    const slot = slots.get(name)!;
    const startedAt = now();
    const child = options.spawn(name);
    slot.child = child;
    slot.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        slot.child = undefined;
        resolve();
        if (!stopping) onCrash(name, startedAt, code, signal);
      });
    });
    // Spawning itself failed (no `exit` follows): report it, and let the crash policy decide.
    child.once('error', (err) => {
      log.error({ process: name, err: err.message }, `${name} process could not be started`);
      if (slot.child === child && child.pid === undefined) child.emit('exit', null, null);
    });
    log.info({ process: name, childPid: child.pid }, `${name} process started`);
  };

  const onCrash = (name: string, startedAt: number, code: number | null, signal: NodeJS.Signals | null) => {
    const slot = slots.get(name)!;
    const decision = decideRestart(slot.history, startedAt, now(), policy);
    slot.history = decision.history;
    if (decision.action === 'give-up') {
      log.error(
        { process: name, code, signal, crashes: decision.crashesInWindow, windowSeconds: policy.windowMs / 1000 },
        `${name} process crashed ${decision.crashesInWindow} times within ${policy.windowMs / 1000} s; giving up and stopping Zmarty`,
      );
      void stop(1);
      return;
    }
    log.warn({ process: name, code, signal, restartInMs: decision.delayMs }, `${name} process exited unexpectedly; restarting it`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!stopping) launch(name);
    }, decision.delayMs);
  };

  const stopOne = async (name: string, slot: Slot) => {
    const { child, exited } = slot;
    if (!child || !exited) return;
    child.kill('SIGTERM');
    const graceful = await Promise.race([exited.then(() => true), sleep(options.stopGraceMs, false, { ref: false })]);
    if (graceful) return;
    log.warn({ process: name, graceMs: options.stopGraceMs }, `${name} process did not exit after SIGTERM; killing it`);
    child.kill('SIGKILL');
    await exited;
  };

  const stop = (code: number) =>
    (stopping ??= (async () => {
      for (const slot of slots.values()) clearTimeout(slot.restartTimer);
      await Promise.all([...slots].map(([name, slot]) => stopOne(name, slot)));
      const result = { code };
      finish(result);
      return result;
    })());

  for (const name of options.names) launch(name);
  return { stop, done };
}
