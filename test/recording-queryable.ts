import type { Queryable } from '../common/db';

/**
 * A Queryable over a real pool that records each statement sent, as `describe`
 * sees its text, and whether it failed: for tests that hold a store to how
 * many statements it sends and which fall back.
 */
export function recordingQueryable<T extends object>(pool: Queryable, describe: (text: string) => T) {
  const sent: Array<T & { failed: boolean }> = [];
  const q: Queryable = {
    query: async (text, values) => {
      const entry = { ...describe(text), failed: false };
      sent.push(entry);
      try {
        return await pool.query(text, values);
      } catch (err) {
        entry.failed = true;
        throw err;
      }
    },
  };
  return { q, sent };
}
