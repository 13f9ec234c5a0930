import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { symbolSchema, timeframeSchema } from '../../common/symbols';
import type { AuthedEnv } from '../http/types';
import { symbolQueries } from '../symbols/symbols.queries';
import { loadCandles, loadMarketSnapshots } from './market.queries';

const candlesQuery = z.object({
  symbol: symbolSchema,
  timeframe: timeframeSchema.default('1h'),
  limit: z.coerce.number().int().min(10).max(1000).default(200),
});

/** `/api/symbols/overview` and `/api/market/candles`: the user's pairs with their latest analysis, and chart data. */
export function createMarketRoutes(deps: { chatDb: Db; tradingDb: Db }) {
  const app = new Hono<AuthedEnv>();

  app.get('/symbols/overview', async (c) => {
    const symbols = await deps.chatDb.asUser(c.var.user.claims, symbolQueries.list);
    try {
      return c.json({ items: await loadMarketSnapshots(deps.tradingDb, symbols), marketData: 'available' });
    } catch {
      // The trading database being down must not hide the user's own list.
      return c.json({ items: symbols.map((s) => ({ symbol: s.symbol, timeframe: s.timeframe, signal: null, risk: null, winRate30d: null })), marketData: 'unavailable' });
    }
  });

  app.get('/market/candles', async (c) => {
    const parsed = candlesQuery.safeParse(c.req.query());
    if (!parsed.success) throw new AppError('validation_failed', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    return c.json(await loadCandles(deps.tradingDb, parsed.data));
  });

  return app;
}
