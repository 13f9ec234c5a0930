import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb } from '../../common/db';
import { createLogger } from '../../common/logger';
import { faults, startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { connectSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { gatherContext } from './chat-context';

/** Parses an SSE body into {event, data} records. */
function parseSse(body: string) {
  return body
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message';
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      return { event, data: JSON.parse(data) };
    });
}

describe('POST /chat (REST fallback) and provider failover', () => {
  let grok: MockOpenAI;
  let gpt: MockOpenAI;
  let server: TestServer;
  let token: string;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const ledger = (requestId: string) =>
    server.chatDb.query<{ reason: string; delta: number; provider: string | null; output_tokens: number | null }>(
      'select reason, delta, provider, output_tokens from public.credits_ledger where request_id = $1 order by id',
      [requestId],
    );

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'Grok says BTC looks strong.', tokenDelayMs: 1 } });
    gpt = await startMockOpenAI({ reply: { text: 'GPT says BTC looks strong.', tokenDelayMs: 1 } });
    server = await startTestServer({
      XAI_API_KEY: 'xai-key',
      XAI_BASE_URL: grok.url,
      OPENAI_API_KEY: 'openai-key',
      OPENAI_BASE_URL: gpt.url,
      FIRST_TOKEN_TIMEOUT_MS: '500',
    });
    token = (await server.signUp()).accessToken;
  });
  beforeEach(() => {
    grok.reset();
    gpt.reset();
  });
  afterAll(async () => {
    await server.close();
    await grok.close();
    await gpt.close();
  });

  it('streams SSE token/done events whose charge matches the ledger', async () => {
    const res = await post({ message: 'How is the market today?' }, { accept: 'text/event-stream', 'idempotency-key': 'sse-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = parseSse(await res.text());
    const tokens = events.filter((e) => e.event === 'token');
    const done = events.find((e) => e.event === 'done')!.data;
    expect(tokens.map((t) => t.data.delta).join('')).toBe('Grok says BTC looks strong.');
    expect(done).toMatchObject({ id: 'sse-1', provider: 'xai', status: 'complete' });
    const rows = await ledger('sse-1');
    expect(-(rows[0]!.delta + rows[1]!.delta)).toBe(done.credits.charged);
    expect(rows[1]!.output_tokens).toBe(done.usage.outputTokens);
  });

  it('answers JSON without an SSE Accept header', async () => {
    const res = await post({ message: 'How is the market today?' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ text: 'Grok says BTC looks strong.', provider: 'xai', status: 'complete', credits: { charged: expect.any(Number) } });
  });

  it('stops the provider and charges only what was delivered when a JSON client goes away mid-answer', async () => {
    grok.script({ text: Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '), tokenDelayMs: 20 });
    const gone = new AbortController();
    const request = fetch(`${server.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'gone-1' },
      body: JSON.stringify({ message: 'How is the market today?' }),
      signal: gone.signal,
    }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 500)); // ~20 of the 200 words streamed
    gone.abort();
    await request;
    expect(await grok.requests[0]!.ended).toBe('client-disconnected');
    // Settled for the words delivered: far below the whole answer's 200.
    let rows = await ledger('gone-1');
    for (let i = 0; rows.length < 2 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await ledger('gone-1');
    }
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'settle']);
    expect(rows[1]!.output_tokens).toBeGreaterThan(0);
    expect(rows[1]!.output_tokens).toBeLessThan(150);
  });

  it('ends an answer whose settlement cannot be recorded: one error event closes the SSE stream, a resume finds it finished, its id is not answered again', { timeout: 30_000 }, async () => {
    const signature = 'zmarty_private.%I(uuid, text, integer, integer, text, text, integer, integer, integer, boolean, text, text, text, text, double precision)';
    const rename = (from: string, to: string) => server.chatDb.query(`do $$ begin execute format('alter function ${signature} rename to %I', '${from}', '${to}'); end $$`);
    // The database keeps refusing the answer's settlement through all of the server's retries (~6 s).
    await rename('finish_answer', 'finish_answer_away');
    try {
      const res = await post({ message: 'How is the market today?' }, { accept: 'text/event-stream', 'idempotency-key': 'unrecorded-1' });
      const events = parseSse(await res.text());
      expect(events.filter((e) => e.event === 'token').map((t) => t.data.delta).join('')).toBe('Grok says BTC looks strong.');
      expect(events.at(-1)).toEqual({ event: 'error', data: { id: 'unrecorded-1', code: 'internal', message: 'The answer failed' } });
      expect(events.filter((e) => e.event === 'error')).toHaveLength(1);
      expect(events.some((e) => e.event === 'done')).toBe(false);
    } finally {
      await rename('finish_answer_away', 'finish_answer');
    }
    // The answer is over, not streaming forever: a resume replays it and its error, and the id is not answered again.
    const socket = await connectSocket(server.url, token);
    try {
      const errors: unknown[] = [];
      socket.on('chat:error', (e) => errors.push(e));
      const resumed = await new Promise<unknown>((resolve) => socket.emit('chat:resume', { id: 'unrecorded-1', fromSeq: -1 }, resolve as never));
      expect(resumed).toEqual({ ok: true, data: { status: 'finished' } });
      const again = await new Promise<unknown>((resolve) => socket.emit('chat:send', { id: 'unrecorded-1', message: 'How is the market today?' }, resolve as never));
      expect(again).toMatchObject({ ok: false, error: { code: 'conflict' } });
      expect(errors).toEqual([{ id: 'unrecorded-1', code: 'internal', message: 'The answer failed' }]);
    } finally {
      socket.close();
    }
  });

  it('ends with incomplete, never duplicated text, when the stream is cut after tokens', async () => {
    grok.script(faults.cut('one two three four five six seven eight', 3));
    const body = await (await post({ message: 'How is the market today?' }, { 'idempotency-key': 'cut-1' })).json();
    expect(body.status).toBe('incomplete');
    expect(body.provider).toBe('xai');
    expect('one two three four five six seven eight'.startsWith(body.text)).toBe(true);
    expect(gpt.requests.length).toBe(0);
    expect(body.usage.estimated).toBe(true);
    const rows = await ledger('cut-1');
    expect(-(rows[0]!.delta + rows[1]!.delta)).toBe(body.credits.charged);
  });

  it('fails over to GPT before the first token when Grok returns 500, and charges only GPT', async () => {
    grok.script(faults.status(500), faults.status(500));
    const res = await post({ message: 'How is the market today?' }, { 'idempotency-key': 'failover-500' });
    const body = await res.json();
    expect(body).toMatchObject({ provider: 'openai', text: 'GPT says BTC looks strong.', status: 'complete' });
    // GPT costs more than Grok: the reservation was extended before the fallback ran.
    expect((await ledger('failover-500')).map((r) => [r.reason, r.provider])).toEqual([
      ['reserve', null],
      ['extend', null],
      ['settle', 'openai'],
    ]);
  });

  it('fails over when Grok is slower than the first-token timeout', async () => {
    grok.script(faults.slowFirstToken(3000), faults.slowFirstToken(3000));
    const body = await (await post({ message: 'How is the market today?' })).json();
    expect(body.provider).toBe('openai');
  });

  it('charges nothing when no provider produced a token', async () => {
    grok.script(faults.status(503), faults.status(503));
    gpt.script(faults.status(500), faults.status(500));
    const before = (await server.chatDb.query<{ balance: number }>('select sum(delta)::int as balance from public.credits_ledger'))[0]!.balance;
    const res = await post({ message: 'How is the market today?' }, { 'idempotency-key': 'all-down' });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('provider_unavailable');
    const rows = await ledger('all-down');
    expect(rows[0]!.delta + rows[1]!.delta).toBe(0);
    const after = (await server.chatDb.query<{ balance: number }>('select sum(delta)::int as balance from public.credits_ledger'))[0]!.balance;
    expect(after).toBe(before);
  });

  it('validates the body and needs a token', async () => {
    expect((await post({ message: '' })).status).toBe(400);
    expect((await post({ message: 'x'.repeat(5000) })).status).toBe(400);
    expect((await post({ message: 'hi' }, { 'idempotency-key': 'bad key with spaces' })).status).toBe(400);
    const anon = await fetch(`${server.url}/chat`, { method: 'POST', body: '{"message":"hi"}' });
    expect(anon.status).toBe(401);
  });

  it('reports each provider in /healthz', async () => {
    const health = await (await fetch(`${server.url}/healthz`)).json();
    expect(health.providers.providers.map((p: { provider: string }) => p.provider)).toEqual(['xai', 'openai']);
  });
});

describe('chat context', () => {
  it('answers with market data marked unavailable when the trading database is down', async () => {
    const server = await startTestServer();
    const dead = createDb({ connectionString: 'postgresql://nobody:x@127.0.0.1:1/trading', max: 1 });
    try {
      const user = await server.signUp();
      await fetch(`${server.url}/api/symbols`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: 'ETH/USDT' }),
      });
      const verified = { userId: user.userId, role: 'authenticated', expiresAt: 0, claims: { sub: user.userId, role: 'authenticated' } };
      const context = await gatherContext({ chatDb: server.chatDb, tradingDb: dead, log: createLogger({ level: 'silent' }) }, verified);
      expect(context).toEqual({ symbols: [{ symbol: 'ETH/USDT', timeframe: '1h' }], market: 'unavailable', account: { balance: 1000, spent24h: 0, answers24h: 0, recent: [] } });
    } finally {
      await dead.close();
      await server.close();
    }
  });

  it('tells a socket whose token expires to refresh, and a fresh token reconnects', async () => {
    const server = await startTestServer({ ACCESS_TOKEN_TTL_SECONDS: '2' });
    try {
      const user = await server.signUp();
      const socket = await connectSocket(server.url, user.accessToken);
      const expired = new Promise((resolve) => socket.on('auth:expired', resolve));
      const disconnected = new Promise((resolve) => socket.on('disconnect', resolve));
      await expired;
      await disconnected;
      const refreshed = await server.supabase().auth.refreshSession({ refresh_token: user.refreshToken });
      const again = await connectSocket(server.url, refreshed.data.session!.access_token);
      expect(again.connected).toBe(true);
      again.close();
    } finally {
      await server.close();
    }
  });
});
