import DataLoader from 'dataloader';

export interface BatcherSpec<I, O> {
  /**
   * One set-based statement for many items; resolves with one result per
   * item, in order. Never given two items with the same `conflictKey`.
   */
  many(items: readonly I[]): Promise<O[]>;
  /** The one-item form: the fallback when `many` fails, so only the item at fault fails. */
  one(item: I): Promise<O>;
  /**
   * Items that must not share a statement (an upsert touching the same row
   * twice is an error in Postgres): later ones go in the next wave.
   */
  conflictKey?(item: I): string;
  /** Most items per statement. */
  maxBatchSize?: number;
}

export type Batcher<I, O> = (item: I) => Promise<O>;

/**
 * Coalesces the calls made by concurrently running jobs into one statement
 * (DataLoader: every call made before the event loop turns joins the batch).
 * Each job keeps its own code path and its own result or error: if the
 * shared statement fails, its items are run one at a time, so one bad symbol
 * fails alone and its batch-mates still succeed. Nothing is cached: these are
 * writes and fresh reads, not lookups.
 */
export function createBatcher<I, O>(spec: BatcherSpec<I, O>): Batcher<I, O> {
  const loader = new DataLoader<I, O, I>(
    async (items) => {
      const results: Array<O | Error> = new Array(items.length);
      let remaining = items.map((item, index) => ({ item, index }));
      while (remaining.length) {
        // A wave: the first item of each conflict key; the rest wait for the next wave.
        const seen = new Set<string>();
        const wave: typeof remaining = [];
        const later: typeof remaining = [];
        for (const entry of remaining) {
          const key = spec.conflictKey?.(entry.item);
          if (key !== undefined && seen.has(key)) later.push(entry);
          else {
            if (key !== undefined) seen.add(key);
            wave.push(entry);
          }
        }
        await runWave(wave, results);
        remaining = later;
      }
      return results;
    },
    { cache: false, maxBatchSize: spec.maxBatchSize ?? 100, batchScheduleFn: (run) => setImmediate(run) },
  );

  async function runWave(wave: Array<{ item: I; index: number }>, results: Array<O | Error>): Promise<void> {
    if (wave.length === 1) {
      const [{ item, index }] = wave as [{ item: I; index: number }];
      results[index] = await spec.one(item).catch(asError);
      return;
    }
    try {
      const out = await spec.many(wave.map((w) => w.item));
      if (out.length !== wave.length) throw new Error(`batched statement returned ${out.length} results for ${wave.length} items`);
      wave.forEach((w, i) => (results[w.index] = out[i]!));
    } catch {
      // Find the culprit: each item on its own; its own error goes to its own job.
      await Promise.all(
        wave.map(async ({ item, index }) => {
          results[index] = await spec.one(item).catch(asError);
        }),
      );
    }
  }

  return (item) => loader.load(item);
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
