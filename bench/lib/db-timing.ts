import type { Db } from '../../common/db';
import { summarize, type Summary } from './stats';

/**
 * Diagnostics for the chat benchmark (BENCH_DB_TIMING=1): wraps a running
 * server's Db objects so every unit of work and every wait for a pooled
 * connection is timed. The chat service holds the same objects, so this sees
 * exactly its database time.
 */
export function timeDb(dbs: Record<string, Db>) {
  const samples = new Map<string, number[]>();
  const add = (key: string, ms: number) => {
    let list = samples.get(key);
    if (!list) samples.set(key, (list = []));
    list.push(ms);
  };
  for (const [name, db] of Object.entries(dbs)) {
    const target = db as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const method of ['query', 'tx', 'asUser', 'asServiceRole'] as const) {
      const original = target[method]!.bind(db);
      target[method] = async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await original(...args);
        } finally {
          add(`${name}.${method}`, performance.now() - t0);
        }
      };
    }
    const pool = db.pool as unknown as { connect: (...args: unknown[]) => Promise<unknown> };
    const connect = pool.connect.bind(db.pool);
    pool.connect = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await connect(...args);
      } finally {
        add(`${name}.pool-wait`, performance.now() - t0);
      }
    };
  }
  return {
    reset: () => samples.clear(),
    report: (): Record<string, Summary> => Object.fromEntries([...samples].map(([k, v]) => [k, summarize(v)])),
  };
}
