import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { symbolSchema, timeframeSchema } from '../../common/symbols';
import { readJson } from '../http/read-json';
import type { AuthedEnv } from '../http/types';
import type { SymbolDirectory } from './symbol-directory';
import { symbolQueries } from './symbols.queries';

const addSymbolSchema = z.object({
  symbol: z.string().max(40, 'symbol is too long').pipe(symbolSchema),
  timeframe: timeframeSchema.default('1h'),
});

/**
 * The signed-in user's watched symbols: list, add, remove. A pair is added
 * only when the market source lists it (`directory`): anything else would be
 * watched with no candles behind it, or with invented ones on the simulated market.
 */
export function createSymbolsRoutes(deps: { chatDb: Db; directory: SymbolDirectory }) {
  const app = new Hono<AuthedEnv>();
  const asUser = <T>(c: { var: AuthedEnv['Variables'] }, work: Parameters<Db['asUser']>[1]) =>
    deps.chatDb.asUser(c.var.user.claims, work) as Promise<T>;

  app.get('/', async (c) => c.json({ symbols: await asUser(c, symbolQueries.list) }));

  app.post('/', async (c) => {
    const parsed = addSymbolSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      throw new AppError('invalid_symbol', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const { symbol } = parsed.data;
    const listed = await deps.directory.check(symbol);
    if (!listed.known) {
      const hint = listed.suggestions.length > 0 ? ` Did you mean ${listed.suggestions.join(', ')}?` : '';
      throw new AppError('unknown_symbol', `${symbol} is not traded on the ${deps.directory.kind} market.${hint}`, {
        details: { suggestions: listed.suggestions },
      });
    }
    const added = await deps.chatDb.asUser(c.var.user.claims, (q) => symbolQueries.add(q, parsed.data));
    if (!added) throw new AppError('conflict', `${parsed.data.symbol} ${parsed.data.timeframe} is already on your list`);
    return c.json(added, 201);
  });

  app.delete('/:id', async (c) => {
    const id = z.coerce.number().int().positive().safeParse(c.req.param('id'));
    if (!id.success) throw new AppError('bad_request', 'id must be a positive integer');
    const removed = await deps.chatDb.asUser(c.var.user.claims, (q) => symbolQueries.remove(q, id.data));
    if (!removed) throw new AppError('not_found', 'No such symbol on your list');
    return c.body(null, 204);
  });

  return app;
}
