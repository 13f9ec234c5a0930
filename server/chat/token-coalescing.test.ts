import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { coalesceWindowMs, MAX_COALESCE_MS } from './token-coalescing';

describe('the coalescing window', () => {
  it.each([
    // streaming answers, min window, events/s budget → window
    [1, 16, 2000, 16],
    [20, 16, 2000, 16],
    [50, 16, 2000, 25],
    [100, 16, 2000, 50],
    [150, 16, 2000, 75],
    [1000, 16, 2000, MAX_COALESCE_MS],
    [0, 16, 2000, 16],
    [100, 16, 0, 16],
    [3, 0, 2000, 2],
  ])('%i answers streaming, %i ms minimum, %i events/s → %i ms', (streaming, minMs, eventsPerSecond, expected) => {
    expect(coalesceWindowMs(streaming, { minMs, eventsPerSecond })).toBe(expected);
  });

  it('keeps the whole process under its budget up to the widest window', () => {
    for (const streaming of [1, 7, 40, 99, 100, 101, 199, 200]) {
      const windowMs = coalesceWindowMs(streaming, { minMs: 16, eventsPerSecond: 2000 });
      // At most one event per answer per window.
      expect((streaming * 1000) / windowMs).toBeLessThanOrEqual(2000);
    }
  });
});

describe('token events under a small budget, through the real server', () => {
  // One token every 20 ms: with the fixed 16 ms window that is one event per token.
  const TOKENS = Array.from({ length: 30 }, (_, i) => `t${i} `);
  const STREAMS = 10;
  const WINDOW_MS = 100; // 10 answers at 100 events/s
  let grok: MockOpenAI;
  let server: TestServer;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { tokens: TOKENS, tokenDelayMs: 20 } });
    server = await startTestServer({ XAI_API_KEY: 'xai-test-key', XAI_BASE_URL: grok.url, CHAT_TOKEN_EVENTS_PER_SECOND: '100' });
  });
  afterAll(async () => {
    await server.close();
    await grok.close();
  });

  it('sends each answer whole, in order, the first token alone, at most about one event per window', async () => {
    const users = await Promise.all(Array.from({ length: STREAMS }, () => server.signUp()));
    const sockets = await Promise.all(users.map((u) => connectSocket(server.url, u.accessToken)));
    try {
      const arrivals = sockets.map(() => [] as number[]);
      sockets.forEach((s, i) => s.on('chat:token', () => arrivals[i]!.push(performance.now())));
      const answers = await Promise.all(sockets.map((s, i) => ask(s, { id: randomUUID(), message: `question ${i} about BTC` })));
      answers.forEach((answer, i) => {
        expect(answer.done).toMatchObject({ status: 'complete' });
        expect(answer.text).toBe(TOKENS.join(''));
        expect(answer.tokens.map((t) => t.seq)).toEqual(answer.tokens.map((_, k) => k));
        expect(answer.tokens[0]!.delta).toBe(TOKENS[0]);
        // The first event, then one per window while tokens flow (doubled: a loaded client may receive late and bunched).
        const spanMs = arrivals[i]!.at(-1)! - arrivals[i]![0]!;
        expect(answer.tokens.length).toBeLessThanOrEqual(2 + Math.ceil((2 * spanMs) / WINDOW_MS));
        expect(answer.tokens.length).toBeLessThan(TOKENS.length / 2);
      });
    } finally {
      for (const s of sockets) s.close();
    }
  });
});
