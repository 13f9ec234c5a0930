import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalRow } from '../../common/events';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

/**
 * Two web instances behind one balancer: a user's sockets may sit on both.
 * Room emits cross instances through the Socket.IO Postgres adapter; signals,
 * which every instance hears from the database itself, are not doubled by it.
 */
describe('two web instances behave as one', () => {
  let grok: MockOpenAI;
  let a: TestServer;
  let b: TestServer;
  const sockets: ClientSocket[] = [];
  const connect = async (server: TestServer, token: string) => {
    const socket = await connectSocket(server.url, token);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'BTC is long.', tokenDelayMs: 1 } });
    a = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url });
    b = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url }, { sameDatabasesAs: a });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await b.close();
    await a.close();
    await grok.close();
  });

  it('tells the user’s socket on the other instance about every new balance (3 of 3)', async () => {
    const user = await a.signUp();
    const onA = await connect(a, user.accessToken);
    const onB = await connect(b, user.accessToken);
    const heardOnB: number[] = [];
    onB.on('credits:balance', (e) => heardOnB.push(e.balance));
    const balances: number[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await ask(onA, { id: randomUUID(), message: 'BTC?' });
      balances.push(answer.done!.credits.balance);
    }
    for (let i = 0; i < 50 && heardOnB.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    expect(heardOnB).toEqual(balances);
  });

  it('pushes a new signal once to each subscribed socket, whichever instance it is on', async () => {
    const user = await a.signUp();
    for (const symbol of ['BTC/USDT']) {
      const added = await fetch(`${a.url}/api/symbols`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ symbol }),
      });
      expect(added.status).toBe(201);
    }
    const received = new Map<ClientSocket, SignalRow[]>();
    for (const server of [a, b]) {
      const socket = await connect(server, user.accessToken);
      received.set(socket, []);
      socket.on('signal:new', (row) => received.get(socket)!.push(row));
      const ack = await new Promise<{ ok: boolean }>((resolve) => socket.emit('signals:subscribe', { symbols: ['BTC/USDT'] }, resolve as never));
      expect(ack.ok).toBe(true);
    }
    await a.tradingDb.query(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
       values ('BTC/USDT', '1h', now(), 'long', 70, 100, 95, 110, '[]')`,
    );
    // Long enough for a duplicate to arrive, if there were one.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const rows of received.values()) expect(rows.map((r) => r.symbol)).toEqual(['BTC/USDT']);
    // Each instance counts what it pushed: its one socket, once.
    for (const server of [a, b]) {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(/^zmarty_signals_pushed_total 1$/m);
    }
  });
});
