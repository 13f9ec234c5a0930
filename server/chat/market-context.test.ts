import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createMarketContextCache, type MarketContextCache } from './market-context';

/** The per-candle market context on a real trading database, invalidated by the pipeline's NOTIFY. */
describe('market context, once per candle', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let tradingDb: Db;
  let cache: MarketContextCache;
  let reads = 0;
  let hoursAgo = 5;
  const BTC = { symbol: 'BTC/USDT', timeframe: '1h' };
  const ETH = { symbol: 'ETH/USDT', timeframe: '4h' };
  const signal = (pair: { symbol: string; timeframe: string }, score: number) =>
    tradingDb.query(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
       values ($1, $2, date_trunc('hour', now()) - make_interval(hours => $3), 'long', $4, 97500, 95800, 101000, '[]')`,
      [pair.symbol, pair.timeframe, hoursAgo--, score],
    );
  /** Waits (bounded) until the cache serves a context other than `fingerprint`: the NOTIFY reached it. */
  const changedFrom = async (pairs: Array<typeof BTC>, fingerprint: string) => {
    for (let i = 0; i < 100; i++) {
      const next = await cache.contextFor(pairs);
      if (next.fingerprint !== fingerprint) return next;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the context never changed');
  };

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    tradingDb = createDb({ connectionString: databases.tradingUrl, max: 4 });
    // Counts the statements the cache sends (each load is two: snapshots and extras), not the test's own inserts.
    const query = tradingDb.query.bind(tradingDb);
    tradingDb.query = (async (text: string, values?: unknown[]) => {
      if (text.includes('with pairs as')) reads++;
      return query(text, values);
    }) as Db['query'];
    await signal(BTC, 60);
    await signal(ETH, 40);
    cache = createMarketContextCache({ tradingDb, log: createLogger({ level: 'silent' }) });
    await cache.start();
  }, 120_000);
  afterAll(async () => {
    await cache?.close();
    await tradingDb?.close();
    await databases?.drop();
  });

  it('reads a pair once for any number of concurrent and later questions', async () => {
    reads = 0;
    const contexts = await Promise.all(Array.from({ length: 20 }, () => cache.contextFor([BTC, ETH])));
    expect(reads).toBe(2);
    expect(new Set(contexts.map((c) => c.fingerprint)).size).toBe(1);
    expect(contexts[0]!.entries.map((e) => [e.symbol, e.signal?.score])).toEqual([
      ['BTC/USDT', 60],
      ['ETH/USDT', 40],
    ]);
    await cache.contextFor([ETH, BTC]);
    expect(reads).toBe(2);
  });

  it('reads a pair again once its next candle’s signal is stored, and only that pair', async () => {
    const before = await cache.contextFor([BTC, ETH]);
    const eth = await cache.contextFor([ETH]);
    reads = 0;
    await signal(BTC, 75);
    const after = await changedFrom([BTC, ETH], before.fingerprint);
    expect(after.entries[0]!.signal?.score).toBe(75);
    // ETH's entry was kept: the same fingerprint, no read of its own.
    const reread = reads;
    expect((await cache.contextFor([ETH])).fingerprint).toBe(eth.fingerprint);
    expect(reads).toBe(reread);
  });

  it('loads a pair asked about lately as soon as its next candle’s signal is stored, so the next question does not wait for it', async () => {
    await cache.contextFor([ETH]);
    reads = 0;
    await signal(ETH, 55);
    // The NOTIFY drops the entry and the cache reloads it by itself: one load, before anyone asks.
    for (let i = 0; i < 100 && reads < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    const context = await cache.contextFor([ETH]);
    expect(context.entries[0]!.signal?.score).toBe(55);
    expect(reads).toBe(2);
  });

  it('reloads a pair in the background past half its age while still serving it, and only pairs asked about lately', async () => {
    let clock = 1_000_000;
    let reads = 0;
    const counted: Db = { ...tradingDb, query: (text, values) => (reads++, tradingDb.query(text, values)) };
    const other = createMarketContextCache({
      tradingDb: counted,
      log: createLogger({ level: 'silent' }),
      listen: false,
      maxAgeMs: 1_000,
      refreshWindowMs: 5_000,
      now: () => clock,
    });
    const settle = () => new Promise((r) => setTimeout(r, 50));
    try {
      await other.contextFor([BTC]);
      reads = 0;
      clock += 400; // young: served, nothing read
      await other.contextFor([BTC]);
      await settle();
      expect(reads).toBe(0);
      clock += 200; // past half: served at once, reloaded meanwhile
      await other.contextFor([BTC]);
      await settle();
      expect(reads).toBe(2);
      clock += 450; // past the first load's age, young for the reload's: served from it, nothing read
      await other.contextFor([BTC]);
      await settle();
      expect(reads).toBe(2);

      // Dropped (as by a new candle's signal): reloaded only while someone asked about it lately.
      other.invalidate(BTC);
      await settle();
      expect(reads).toBe(4);
      clock += 6_000;
      other.invalidate(BTC);
      await settle();
      expect(reads).toBe(4);
    } finally {
      await other.close();
    }
  });

  it('fingerprints the same rows alike in another instance, and other rows apart', async () => {
    const other = createMarketContextCache({ tradingDb, log: createLogger({ level: 'silent' }), listen: false });
    expect((await other.contextFor([BTC, ETH])).fingerprint).toBe((await cache.contextFor([BTC, ETH])).fingerprint);
    expect((await other.contextFor([BTC])).fingerprint).not.toBe((await other.contextFor([ETH])).fingerprint);
    await other.close();
  });
});
