import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

interface Statement {
  at: number;
  text: string;
}

/**
 * Records every statement sent through a pg pool — `pool.query` and the
 * queries of clients checked out with `pool.connect()` (transactions) — so
 * each entry is one round trip to the database.
 */
function recordStatements(pool: pg.Pool): Statement[] {
  const log: Statement[] = [];
  const record = (text: unknown) => log.push({ at: performance.now(), text: typeof text === 'string' ? text : String((text as { text?: string }).text) });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    record(args[0]);
    return query(...args);
  }) as typeof pool.query;
  // pool.query checks a client out with a callback (its statement is counted above); a checkout without one is a transaction's.
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  pool.connect = ((...args: unknown[]) => {
    if (args.length > 0) return connect(...args);
    return (connect() as Promise<pg.PoolClient>).then((client) => {
      const clientQuery = client.query;
      const release = client.release;
      client.query = ((...q: unknown[]) => {
        record(q[0]);
        return (clientQuery as (...a: unknown[]) => unknown).apply(client, q);
      }) as typeof client.query;
      client.release = (...r: Parameters<typeof release>) => {
        client.query = clientQuery;
        client.release = release;
        return release.apply(client, r);
      };
      return client;
    });
  }) as typeof pool.connect;
  return log;
}

/**
 * Statements that are not one answer's: the answer journal's flush (one
 * statement for every answer running, on a timer). A NOTIFY does count: the
 * new balance reaches the user's other sockets from the settlement's own
 * transaction (sql/chat/0019), not from a NOTIFY round trip after it.
 */
const shared = (s: Statement) => /zmarty_private\.answer_events|answer_journal/i.test(s.text);
const named = (statements: Statement[]) =>
  statements.filter((s) => !shared(s)).map((s) => s.text.match(/zmarty_private\.(\w+)\(/)?.[1] ?? s.text.replace(/\s+/g, ' ').slice(0, 80));

/**
 * The database work of one answer, counted through the real pg pool on the
 * real database: what is on the time to first token (chat:send → first
 * chat:token) and what follows it (→ chat:done).
 */
describe('database round trips of one chat answer', () => {
  let grok: MockOpenAI;
  let server: TestServer;
  let statements: Statement[];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'BTC/USDT 1h is long at 97,500 with a stop at 95,800.', tokenDelayMs: 1, firstTokenDelayMs: 30 } });
    server = await startTestServer({
      XAI_API_KEY: 'xai-key',
      XAI_BASE_URL: grok.url,
      CHAT_ANSWER_CACHE_TTL_SECONDS: '600',
      // Nothing periodic of ours in the counted windows.
      ANSWER_HEARTBEAT_MS: '60000',
      ANSWER_STALE_MS: '300000',
      RESERVATION_SWEEP_MS: '3600000',
    });
    statements = recordStatements(server.chatDb.pool);
  }, 120_000);
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await server?.close();
    await grok?.close();
  });

  const trader = async () => {
    const user = await server.signUp();
    await server.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'BTC/USDT', '1h')`, [user.userId]);
    const socket = await connectSocket(server.url, user.accessToken);
    sockets.push(socket);
    return { ...user, socket };
  };

  /** Asks, and returns the statements before the first token and after it, by name. */
  const counted = async (socket: ClientSocket, payload: { message: string; conversationId?: string }) => {
    const from = statements.length;
    let firstToken = 0;
    const answer = await ask(socket, { id: randomUUID(), ...payload }, () => (firstToken ||= performance.now()));
    expect(answer.done).toMatchObject({ provider: 'xai', status: 'complete' });
    // What the answer sends after chat:done (the balance push once was a NOTIFY here) lands in the window too.
    await new Promise((r) => setTimeout(r, 200));
    const window = statements.slice(from);
    return {
      answer,
      beforeFirstToken: named(window.filter((s) => s.at < firstToken)),
      afterFirstToken: named(window.filter((s) => s.at >= firstToken)),
    };
  };

  it('asks the provider after one round trip (begin_answer) for a first question, and settles, stores and caches in one (finish_answer)', async () => {
    const user = await trader();
    // The first question this instance sees from the user reads the tier and the facts first.
    const cold = await counted(user.socket, { message: `What is the BTC/USDT signal? (1 ${randomUUID()})` });
    expect(cold.beforeFirstToken).toEqual([expect.stringContaining('t.chat_per_minute'), 'begin_answer', 'begin_answer']);
    expect(cold.afterFirstToken).toEqual(['finish_answer']);

    const warm = await counted(user.socket, { message: `What is the BTC/USDT signal? (2 ${randomUUID()})` });
    expect(warm.beforeFirstToken).toEqual(['begin_answer']);
    expect(warm.afterFirstToken).toEqual(['finish_answer']);
    // The answer was stored beside its question and the cache entry written, by that one call.
    const [stored] = await server.chatDb.query<{ n: number; cached: number }>(
      `select (select count(*) from public.messages where user_id = $1 and role = 'assistant')::int as n,
              (select count(*) from zmarty_private.answer_cache)::int as cached`,
      [user.userId],
    );
    expect(stored).toEqual({ n: 2, cached: 2 });
  });

  it('reads the history first for a follow-up: two round trips before the provider, one after', async () => {
    const user = await trader();
    const first = await counted(user.socket, { message: `BTC signal? (${randomUUID()})` });
    const followUp = await counted(user.socket, { message: 'and why?', conversationId: first.answer.done!.conversationId });
    expect(followUp.beforeFirstToken).toEqual(['begin_answer', 'begin_answer']);
    expect(followUp.afterFirstToken).toEqual(['finish_answer']);
    // The earlier turn reached the provider from the database.
    expect(JSON.stringify(grok.requests.at(-1)!.body.messages)).toContain('BTC/USDT 1h is long at 97,500');
  });

  it('builds the prompt on the stored watchlist when another instance changed it since this one last saw it', async () => {
    const user = await trader();
    await counted(user.socket, { message: `BTC signal? (${randomUUID()})` });
    // As another instance would: the watchlist changes behind this instance's back.
    await server.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'SOL/USDT', '4h')`, [user.userId]);
    const next = await counted(user.socket, { message: `What is the signal? (${randomUUID()})` });
    // begin_answer saw the change and returned the stored watchlist instead of reserving; the second call reserved.
    expect(next.beforeFirstToken).toEqual(['begin_answer', 'begin_answer']);
    expect(JSON.stringify(grok.requests.at(-1)!.body.messages)).toContain('SOL/USDT');
    const [rows] = await server.chatDb.query<{ reserves: number; points: number }>(
      `select (select count(*) from public.credits_ledger where user_id = $1 and reason = 'reserve')::int as reserves,
              (select points from zmarty_private.rate_limits where key = 'chat_minute:' || $1) as points`,
      [user.userId],
    );
    // One reservation and one per-minute point per answer, the retried call included.
    expect(rows).toEqual({ reserves: 2, points: 2 });
  });

  it('sees a timeframe changed or a symbol removed behind its back, and another user\'s change costs it nothing', async () => {
    const user = await trader();
    const other = await trader();
    await counted(user.socket, { message: `BTC signal? (${randomUUID()})` });
    // Another user's watchlist changes: this user's next answer still takes one call.
    await server.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'XRP/USDT', '1d')`, [other.userId]);
    expect((await counted(user.socket, { message: `BTC signal? (${randomUUID()})` })).beforeFirstToken).toEqual(['begin_answer']);

    await server.chatDb.query(`update public.user_symbols set timeframe = '15m' where user_id = $1 and symbol = 'BTC/USDT'`, [user.userId]);
    const afterUpdate = await counted(user.socket, { message: `BTC signal? (${randomUUID()})` });
    expect(afterUpdate.beforeFirstToken).toEqual(['begin_answer', 'begin_answer']);
    expect(JSON.stringify(grok.requests.at(-1)!.body.messages)).toContain('BTC/USDT (15m)');

    await server.chatDb.query(`delete from public.user_symbols where user_id = $1 and symbol = 'BTC/USDT'`, [user.userId]);
    const afterDelete = await counted(user.socket, { message: `BTC signal? (${randomUUID()})` });
    expect(afterDelete.beforeFirstToken).toEqual(['begin_answer', 'begin_answer']);
    expect(JSON.stringify(grok.requests.at(-1)!.body.messages)).not.toContain('BTC/USDT (15m)');

    // An update that changes nothing is not a change.
    await server.chatDb.query(`update public.user_symbols set timeframe = timeframe where user_id = $1`, [user.userId]);
    expect((await counted(user.socket, { message: `BTC signal? (${randomUUID()})` })).beforeFirstToken).toEqual(['begin_answer']);
  });
});
