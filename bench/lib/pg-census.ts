import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * Diagnostics for the pipeline benchmark: every statement any pg client of
 * this process sends, counted and timed (send → result, so a statement
 * queued behind another on its connection counts its wait) per
 * `application_name` — the worker's pool (`zmarty-pipeline`) and pg-boss's
 * (`zmarty-pgboss`) apart — and per statement kind; and the time callers
 * wait for a pooled connection. Patches pg's Client and Pool prototypes:
 * the worker, pg-boss and the bench share this process's `pg` module.
 */
export function startPgCensus() {
  interface Tally {
    count: number;
    ms: number;
  }
  const byApp = new Map<string, Tally>();
  const byKind = new Map<string, Tally>();
  const poolWaits = new Map<string, number[]>();
  const add = (map: Map<string, Tally>, key: string, ms: number) => {
    let t = map.get(key);
    if (!t) map.set(key, (t = { count: 0, ms: 0 }));
    t.count++;
    t.ms += ms;
  };
  const kindOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 70);

  type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
  const clientProto = pg.Client.prototype as unknown as { query: QueryFn };
  const originalQuery = clientProto.query;
  clientProto.query = function (this: pg.Client, ...args: unknown[]) {
    const app = (this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters?.application_name ?? '?';
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    const t0 = performance.now();
    const done = () => {
      const ms = performance.now() - t0;
      add(byApp, app, ms);
      add(byKind, `${app}: ${kindOf(text)}`, ms);
    };
    // pg-pool's query() passes a callback (last argument) and gets no promise back: time that instead.
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const cb = args[last] as (...a: unknown[]) => void;
      args[last] = (...cbArgs: unknown[]) => {
        done();
        cb(...cbArgs);
      };
    }
    const result = originalQuery.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    else if (typeof args[last] !== 'function') done();
    return result;
  };

  type ConnectFn = (this: pg.Pool, ...args: unknown[]) => unknown;
  const poolProto = pg.Pool.prototype as unknown as { connect: ConnectFn };
  const originalConnect = poolProto.connect;
  poolProto.connect = function (this: pg.Pool, ...args: unknown[]) {
    const app = (this.options as { application_name?: string }).application_name ?? '?';
    const t0 = performance.now();
    const record = () => {
      let list = poolWaits.get(app);
      if (!list) poolWaits.set(app, (list = []));
      list.push(performance.now() - t0);
    };
    // pool.query passes a callback; connect() without one returns a promise.
    const cb = args[0];
    if (typeof cb === 'function') {
      return originalConnect.call(this, (...cbArgs: unknown[]) => {
        record();
        (cb as (...a: unknown[]) => void)(...cbArgs);
      });
    }
    const p = originalConnect.apply(this, args) as Promise<unknown>;
    p.then(record, record);
    return p;
  };

  return {
    reset() {
      byApp.clear();
      byKind.clear();
      poolWaits.clear();
    },
    snapshot() {
      return {
        byApp: new Map([...byApp].map(([k, v]) => [k, { ...v }])),
        byKind: new Map([...byKind].map(([k, v]) => [k, { ...v }])),
        poolWaits: new Map([...poolWaits].map(([k, v]) => [k, [...v].sort((a, b) => a - b)])),
      };
    },
    stop() {
      clientProto.query = originalQuery;
      poolProto.connect = originalConnect;
    },
  };
}

/**
 * CPU seconds (user + system) a process has used so far (Linux /proc), or
 * undefined when it has exited or /proc is absent.
 */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime is field 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
