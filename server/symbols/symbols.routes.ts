import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { symbolSchema, timeframeSchema } from '../../common/symbols';
import { readJson } from '../http/read-json';
import type { AuthedEnv } from '../http/types';
import { symbolQueries } from './symbols.queries';

const addSymbolSchema = z.object({
  symbol: z.string().max(40, 'symbol is too long').pipe(symbolSchema),
  timeframe: timeframeSchema.default('1h'),
});

/** The signed-in user's watched symbols: list, add, remove. */
export function createSymbolsRoutes(deps: { chatDb: Db }) {
  const app = new Hono<AuthedEnv>();
  const asUser = <T>(c: { var: AuthedEnv['Variables'] }, work: Parameters<Db['asUser']>[1]) =>
    deps.chatDb.asUser(c.var.user.claims, work) as Promise<T>;

  app.get('/', async (c) => c.json({ symbols: await asUser(c, symbolQueries.list) }));

  app.post('/', async (c) => {
    const parsed = addSymbolSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      throw new AppError('invalid_symbol', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
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
