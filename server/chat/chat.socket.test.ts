import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockElevenLabs, startMockOpenAI, type MockElevenLabs, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

const ANSWER = 'BTC/USDT is long with a score of 72. Entry 97,500, stop 95,800. Take profit at 101,000.';

describe('realtime chat over Socket.IO (Grok via the openai SDK, ElevenLabs voice)', () => {
  let grok: MockOpenAI;
  let eleven: MockElevenLabs;
  let server: TestServer;
  let user: Awaited<ReturnType<TestServer['signUp']>>;
  const sockets: ClientSocket[] = [];
  const connect = async (token = user.accessToken) => {
    const socket = await connectSocket(server.url, token);
    sockets.push(socket);
    return socket;
  };
  const ledgerRows = (requestId: string) =>
    server.chatDb.query('select reason, delta, provider, model, input_tokens, output_tokens, voice_characters, estimated from public.credits_ledger where request_id = $1 order by id', [requestId]);
  const balanceOf = async (userId: string) =>
    (await server.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [userId]))[0]!.balance;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: ANSWER, tokenDelayMs: 1 } });
    eleven = await startMockElevenLabs();
    server = await startTestServer({
      XAI_API_KEY: 'xai-test-key',
      XAI_BASE_URL: grok.url,
      ELEVENLABS_API_KEY: 'el-test-key',
      ELEVENLABS_BASE_URL: eleven.url,
      FIRST_TOKEN_TIMEOUT_MS: '2000',
    });
    user = await server.signUp();
  });
  afterEach(() => {
    grok.reset();
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await server.close();
    await grok.close();
    await eleven.close();
  });

  it('streams tokens in order and charges exactly what chat:done reports', async () => {
    const socket = await connect();
    const balances: number[] = [];
    socket.on('credits:balance', (e) => balances.push(e.balance));
    const before = await balanceOf(user.userId);
    const id = randomUUID();
    const answer = await ask(socket, { id, message: "what's the signal for BTC?" });

    expect(answer.ack).toEqual({ ok: true, data: { requestId: id, conversationId: answer.done!.conversationId } });
    expect(answer.text).toBe(ANSWER);
    expect(answer.tokens.map((t) => t.seq)).toEqual(answer.tokens.map((_, i) => i));
    // The first provider token is sent alone and at once; later ones arriving within a frame share an event.
    expect(ANSWER.startsWith(answer.tokens[0]!.delta)).toBe(true);
    expect(answer.tokens[0]!.delta.trim().split(' ')).toHaveLength(1);
    expect(answer.tokens.length).toBeLessThan(grok.requests[0]!.unitsSent);
    const done = answer.done!;
    expect(done).toMatchObject({ id, provider: 'xai', model: 'grok-4-fast-non-reasoning', status: 'complete' });
    expect(done.usage.estimated).toBe(false);
    expect(done.credits.charged).toBeGreaterThan(0);

    const rows = await ledgerRows(id);
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'settle']);
    const settle = rows[1]!;
    expect(-(rows[0]!.delta + settle.delta)).toBe(done.credits.charged);
    expect(settle).toMatchObject({ provider: 'xai', input_tokens: done.usage.inputTokens, output_tokens: done.usage.outputTokens, estimated: false });
    expect(done.credits.balance).toBe(before - done.credits.charged);
    expect(await balanceOf(user.userId)).toBe(done.credits.balance);
    await new Promise((r) => setTimeout(r, 50));
    expect(balances.at(-1)).toBe(done.credits.balance);

    // The provider got the user's question and usage was requested in the stream.
    const request = grok.requests[0]!;
    expect(request.body.stream).toBe(true);
    expect(request.body.stream_options).toEqual({ include_usage: true });
    expect(JSON.stringify(request.body.messages)).toContain("what's the signal for BTC?");
  });

  it('never charges a retried request id twice', async () => {
    const socket = await connect();
    const id = randomUUID();
    const first = await ask(socket, { id, message: 'hello' });
    expect(first.done?.status).toBe('complete');
    const again = await ask(socket, { id, message: 'hello' });
    expect(again.ack).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect((await ledgerRows(id)).length).toBe(2);
  });

  it('aborts the upstream request at once and charges only what was delivered', async () => {
    grok.script({ text: Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '), tokenDelayMs: 20, usage: { inputTokens: 50, outputTokens: 400 } });
    const socket = await connect();
    const id = randomUUID();
    const answer = await ask(socket, { id, message: 'write a long essay' }, (e) => {
      if (e.seq === 4) socket.emit('chat:abort', { id });
    });
    const request = grok.requests[0]!;
    await request.ended;
    expect(request.outcome).toBe('client-disconnected');
    expect(request.unitsSent).toBeLessThan(60);
    expect(answer.done!.status).toBe('aborted');
    expect(answer.done!.usage.estimated).toBe(true);
    expect(answer.done!.usage.outputTokens).toBeLessThan(100);
    const rows = await ledgerRows(id);
    expect(-(rows[0]!.delta + rows[1]!.delta)).toBe(answer.done!.credits.charged);
  });

  it('refuses unauthenticated and expired sockets at the handshake', async () => {
    await expect(connectSocket(server.url)).rejects.toThrow('token_missing');
    await expect(connectSocket(server.url, 'garbage')).rejects.toThrow('token_malformed');
    const { SignJWT } = await import('jose');
    const expired = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.userId)
      .setAudience('authenticated')
      .setIssuer('http://localhost:8080/auth/v1')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(server.jwtSecret));
    await expect(connectSocket(server.url, expired)).rejects.toThrow('token_expired');
  });

  it('answers malformed chat:send payloads with an error ack and keeps the socket alive', async () => {
    const socket = await connect();
    const send = (payload: unknown) =>
      new Promise<{ ok: boolean; error?: { code: string } }>((resolve) => socket.emit('chat:send', payload as never, resolve as never));
    for (const payload of [
      { id: 42, message: 'hi' },
      { message: 'no id' },
      { id: 'x', message: 7 },
      { id: 'x', message: 'a'.repeat(1_000_000) },
      { id: 'x', message: '   ' },
      { id: 'x', message: 'hi', voice: 'yes' },
      'just a string',
    ]) {
      const ack = await send(payload);
      expect(ack).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    }
    expect(socket.connected).toBe(true);
    expect(grok.requests).toHaveLength(0);
    expect((await ask(socket, { id: randomUUID(), message: 'still here?' })).done?.status).toBe('complete');
  });

  it('sends a refusal as chat:error when the event came without an acknowledgement callback', async () => {
    const socket = await connect();
    const errors: Array<{ id: string; code: string; message: string }> = [];
    socket.on('chat:error', (e) => errors.push(e));
    const refusedWithoutAck = (event: 'chat:send' | 'chat:resume' | 'chat:abort', payload: unknown) => {
      (socket.emit as (ev: string, p: unknown) => void)(event, payload);
      const n = errors.length;
      return new Promise<(typeof errors)[number]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no chat:error for ${event}`)), 5000);
        const check = () => (errors.length > n ? (clearTimeout(timer), resolve(errors[n]!)) : setTimeout(check, 10));
        check();
      });
    };
    expect(await refusedWithoutAck('chat:send', { id: 'no-message' })).toMatchObject({ id: 'no-message', code: 'validation_failed', message: expect.stringMatching(/^message:/) });
    expect(await refusedWithoutAck('chat:send', 'just a string')).toMatchObject({ id: '', code: 'validation_failed' });
    expect(await refusedWithoutAck('chat:resume', { id: 'never-asked', fromSeq: -1 })).toMatchObject({ id: 'never-asked', code: 'not_found' });
    expect(await refusedWithoutAck('chat:abort', { id: 7 })).toMatchObject({ id: '', code: 'validation_failed' });
    expect(grok.requests).toHaveLength(0);
    expect(socket.connected).toBe(true);
  });

  it('lets a client that reconnects resume an answer in progress without losing or repeating text', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `part${i}`).join(' ');
    grok.script({ text: long, tokenDelayMs: 15 });
    const first = await connect();
    const id = randomUUID();
    const received: string[] = [];
    let lastSeq = -1;
    await new Promise<void>((resolve) => {
      first.on('chat:token', (e) => {
        received.push(e.delta);
        lastSeq = e.seq;
        if (e.seq === 10) {
          first.disconnect();
          resolve();
        }
      });
      first.emit('chat:send', { id, message: 'stream something long' }, () => undefined);
    });
    await new Promise((r) => setTimeout(r, 100));
    const second = await connect();
    const done = new Promise<void>((resolve) => {
      second.on('chat:token', (e) => {
        expect(e.seq).toBeGreaterThan(lastSeq);
        lastSeq = e.seq;
        received.push(e.delta);
      });
      second.on('chat:done', () => resolve());
    });
    const ack = await new Promise<{ ok: boolean }>((resolve) => second.emit('chat:resume', { id, fromSeq: lastSeq }, resolve as never));
    expect(ack.ok).toBe(true);
    await done;
    expect(received.join('')).toBe(long);
  });

  it('follows an answer from a resume sent right behind its chat:send, as a client does when a send whose ack was lost is repeated', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `piece${i}`).join(' ');
    grok.script({ text: long, tokenDelayMs: 5 });
    const socket = await connect();
    const id = randomUUID();
    const bySeq = new Map<number, string>();
    const done = new Promise<{ status: string }>((resolve) => {
      socket.on('chat:token', (e) => bySeq.set(e.seq, e.delta));
      socket.on('chat:done', (e) => resolve(e));
    });
    // The resume reaches the server while the send is still being started (its reservation is a database call away).
    const sent = new Promise<{ ok: boolean }>((resolve) => socket.emit('chat:send', { id, message: 'stream something long' }, resolve as never));
    const resumed = new Promise<{ ok: boolean; error?: { code: string } }>((resolve) => socket.emit('chat:resume', { id, fromSeq: -1 }, resolve as never));
    // And the repeated send is a conflict, not a second answer.
    const repeated = new Promise<{ ok: boolean; error?: { code: string } }>((resolve) => socket.emit('chat:send', { id, message: 'stream something long' }, resolve as never));
    expect(await resumed).toMatchObject({ ok: true });
    expect(await sent).toMatchObject({ ok: true });
    expect(await repeated).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect((await done).status).toBe('complete');
    expect([...bySeq.keys()].sort((a, b) => a - b).map((seq) => bySeq.get(seq)).join('')).toBe(long);
    expect((await ledgerRows(id)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
  });

  it('streams voice: audio chunks in order after their text, then a final marker; a repeat is served from the cache', async () => {
    const socket = await connect();
    const id = randomUUID();
    const order: string[] = [];
    socket.on('chat:token', (e) => e.id === id && order.push('token'));
    socket.on('chat:audio', (e) => e.id === id && order.push('audio'));
    const answer = await ask(socket, { id, message: 'signal please', voice: true });
    expect(answer.errors).toEqual([]);
    expect(answer.audio.length).toBeGreaterThan(1);
    expect(answer.audio.map((a) => a.seq)).toEqual(answer.audio.map((_, i) => i));
    expect(answer.audio.at(-1)).toMatchObject({ final: true });
    expect(answer.audio[0]!.mime).toBe('audio/mpeg');
    expect(answer.audio.slice(0, -1).every((a) => a.data.byteLength > 0)).toBe(true);
    expect(order.indexOf('audio')).toBeGreaterThan(order.indexOf('token'));
    expect(answer.done!.usage.voiceCharacters).toBeGreaterThan(0);
    const upstreamCalls = eleven.requests.length;
    expect(upstreamCalls).toBeGreaterThan(0);
    expect(eleven.requests[0]!.headers['xi-api-key']).toBe('el-test-key');

    const repeat = await ask(socket, { id: randomUUID(), message: 'signal please', voice: true });
    expect(repeat.audio.length).toBe(answer.audio.length);
    expect(eleven.requests.length).toBe(upstreamCalls);
  });
});

describe('chat without provider keys: the local analyst', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ CHAT_MAX_CONCURRENT_PER_USER: '100', CHAT_MAX_PER_MINUTE: '1000', CHAT_TOKEN_COALESCE_MS: '0' });
  });
  afterAll(() => server.close());

  it('answers from the stored signal, labelled local, and says when voice is unavailable', async () => {
    const user = await server.signUp();
    await fetch(`${server.url}/api/symbols`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'BTC/USDT' }),
    });
    await server.tradingDb.query(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
       values ('BTC/USDT', '1h', now() - interval '1 hour', 'long', 74, 97500, 95800, 101000, '[]')`,
    );
    const socket = await connectSocket(server.url, user.accessToken);
    try {
      const answer = await ask(socket, { id: randomUUID(), message: "what's the signal for BTC?", voice: true });
      expect(answer.done).toMatchObject({ provider: 'local', status: 'complete' });
      expect(answer.text).toMatch(/long/i);
      expect(answer.text).toContain('74');
      expect(answer.tokens.length).toBeGreaterThan(5);
      expect(answer.errors.map((e) => e.code)).toEqual(['voice_unavailable']);
      expect(answer.done!.credits.charged).toBeGreaterThan(0);
    } finally {
      socket.close();
    }
  });

  it('gives a user who can afford 5 answers exactly 5 of 50 concurrent requests; the ledger stays exact', async () => {
    const user = await server.signUp();
    const socket = await connectSocket(server.url, user.accessToken);
    try {
      const probeId = randomUUID();
      const probe = await ask(socket, { id: probeId, message: 'how is my watchlist?' });
      const [reserve] = await server.chatDb.query<{ delta: number }>(`select delta from public.credits_ledger where request_id = $1 and reason = 'reserve'`, [probeId]);
      const perAnswer = -reserve!.delta;
      // Bring the balance to exactly five reservations.
      const balance = probe.done!.credits.balance;
      await server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', $3)`, [
        user.userId,
        5 * perAnswer - balance,
        `test-adjust-${user.userId}`,
      ]);
      const answers = await Promise.all(Array.from({ length: 50 }, () => ask(socket, { id: randomUUID(), message: 'how is my watchlist?' })));
      const accepted = answers.filter((a) => a.ack.ok);
      const refused = answers.filter((a) => !a.ack.ok);
      expect(accepted).toHaveLength(5);
      expect(new Set(refused.map((a) => (a.ack.ok ? '' : a.ack.error.code)))).toEqual(new Set(['insufficient_credits']));
      const charged = accepted.reduce((sum, a) => sum + a.done!.credits.charged, 0);
      const [row] = await server.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [user.userId]);
      expect(row!.balance).toBe(5 * perAnswer - charged);
      expect(row!.balance).toBeGreaterThanOrEqual(0);
      const rows = await server.chatDb.query(`select count(*)::int as n from public.credits_ledger where user_id = $1 and reason in ('reserve','settle')`, [user.userId]);
      expect(rows[0]!.n).toBe(2 * 6);
    } finally {
      socket.close();
    }
  });
});
