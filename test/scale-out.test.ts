import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from '../client/src/lib/socket.client';
import { createDb, type Db } from '../common/db';
import type { Ack, ChatTokenEvent } from '../common/events';
import { createMigratedDatabases } from './databases';
import { startMockOpenAI, type MockOpenAI } from './mock-providers';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy';
import { ask, connectSocket, type ClientSocket } from './socket-client';
import { TEST_JWT_SECRET, TEST_WEBHOOK_SECRET } from './test-server';
import { startWebProcess, startWorkerProcess, type WebProcess } from './web-process';

// "slow" questions stream 60 words 80 ms apart (about 5 s); others answer at once.
const SLOW_TEXT = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');

/**
 * Issue 11's table, on the real processes: two web (server/main.ts) and two
 * worker (pipeline/main.ts) processes on one pair of databases, behind a
 * plain round-robin balancer (test/round-robin-proxy.ts: no stickiness).
 * Each row of the table is one test. Rows that say "the other instance" talk
 * to an instance directly; rows about the balancer go through it.
 */
describe('two web and two worker processes behind a round-robin balancer behave as one', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let grok: MockOpenAI;
  let proxy: RoundRobinProxy;
  const backends: string[] = [];
  let webA: WebProcess;
  let webB: WebProcess;
  const workers: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  let db: Db;
  let anonKey: string;
  const sockets: ClientSocket[] = [];
  const connect = async (url: string, token: string) => {
    const socket = await connectSocket(url, token);
    sockets.push(socket);
    return socket;
  };
  const supabase = () => createClient(proxy.url, anonKey, { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } });
  let counter = 0;
  const signUp = async () => {
    const { data, error } = await supabase().auth.signUp({ email: `scale${++counter}-${Date.now()}@example.com`, password: 'correct horse battery' });
    if (error || !data.session) throw error ?? new Error('no session');
    return { accessToken: data.session.access_token, userId: data.session.user.id };
  };
  const send = (socket: ClientSocket, id: string, message: string) =>
    new Promise<Ack<unknown>>((resolve) => socket.emit('chat:send', { id, message }, resolve));
  const balanceOf = async (userId: string) =>
    (await db.query<{ balance: number }>('select coalesce(sum(delta), 0)::bigint as balance from public.credits_ledger where user_id = $1', [userId]))[0]!.balance;

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 2 });
    grok = await startMockOpenAI({
      reply: (request) =>
        JSON.stringify(request.body.messages).includes('slow') ? { text: SLOW_TEXT, tokenDelayMs: 80 } : { text: 'BTC is long.', tokenDelayMs: 1 },
    });
    proxy = await startRoundRobinProxy(backends);
    const env = {
      CHAT_DATABASE_URL: databases.chatUrl,
      TRADING_DATABASE_URL: databases.tradingUrl,
      // The same secret and issuer everywhere: the balancer's URL is what clients see.
      SUPABASE_JWT_SECRET: TEST_JWT_SECRET,
      PUBLIC_URL: proxy.url,
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      XAI_API_KEY: 'xai-key',
      XAI_BASE_URL: grok.url,
      CHAT_MAX_PER_MINUTE: '5',
      CHAT_MAX_CONCURRENT_PER_USER: '20',
      ANSWER_HEARTBEAT_MS: '200',
      ANSWER_STALE_MS: '1500',
      RESERVATION_SWEEP_MS: '300',
      ANSWER_JOURNAL_FLUSH_MS: '50',
    };
    const workerEnv = { TRADING_DATABASE_URL: databases.tradingUrl, LOG_LEVEL: 'info', WORKER_POLL_SECONDS: '1' };
    const [a, b, ...started] = await Promise.all([startWebProcess(env), startWebProcess(env), startWorkerProcess(workerEnv), startWorkerProcess(workerEnv)]);
    [webA, webB] = [a, b];
    workers.push(...started);
    backends.push(webA.url, webB.url);
    anonKey = ((await (await fetch(`${proxy.url}/api/config`)).json()) as { supabaseAnonKey: string }).supabaseAnonKey;
  }, 400_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of [webA, webB, ...workers]) p?.child.kill('SIGKILL');
    await Promise.all([webA, webB, ...workers].map((p) => p?.exited));
    await proxy?.close();
    await grok?.close();
    await db?.close();
    await databases?.drop();
  });

  it('credits:balance reaches the same user’s socket on the other instance (3 of 3)', { timeout: 120_000 }, async () => {
    const user = await signUp();
    const onA = await connect(webA.url, user.accessToken);
    const onB = await connect(webB.url, user.accessToken);
    const heardOnB: number[] = [];
    onB.on('credits:balance', (e) => heardOnB.push(e.balance));
    const balances: number[] = [];
    for (let i = 0; i < 3; i++) balances.push((await ask(onA, { id: randomUUID(), message: 'BTC?' })).done!.credits.balance);
    for (let i = 0; i < 100 && heardOnB.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    expect(heardOnB).toEqual(balances);
  });

  it('chat:resume after reconnecting to the other instance replays what was missed and follows to done, once; the id never runs again there', { timeout: 120_000 }, async () => {
    const user = await signUp();
    const onA = await connect(webA.url, user.accessToken);
    const id = randomUUID();
    const message = `slow ${id}`;
    let handOver: Promise<{ fromSeq: number; textOnA: string; onB: ClientSocket }> | undefined;
    void ask(onA, { id, message }, (token, collected) => {
      if (collected.tokens.length !== 5 || handOver) return;
      onA.disconnect();
      handOver = connect(webB.url, user.accessToken).then((onB) => ({ fromSeq: token.seq, textOnA: collected.text, onB }));
    }).catch(() => undefined);
    for (let i = 0; i < 400 && !handOver; i++) await new Promise((r) => setTimeout(r, 25));
    const { fromSeq, textOnA, onB } = await handOver!;
    const tokens: ChatTokenEvent[] = [];
    onB.on('chat:token', (e) => e.id === id && tokens.push(e));
    const done = new Promise((resolve) => onB.on('chat:done', (e) => e.id === id && resolve(e)));
    const ack = await new Promise<Ack<{ status: string }>>((resolve) => onB.emit('chat:resume', { id, fromSeq }, resolve as never));
    expect(ack).toEqual({ ok: true, data: { status: 'streaming' } });
    await done;
    expect(tokens.map((t) => t.seq)).toEqual(Array.from({ length: tokens.length }, (_, i) => fromSeq + 1 + i));
    expect(textOnA + tokens.map((t) => t.delta).join('')).toBe(SLOW_TEXT);
    expect(await send(onB, id, message)).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(grok.requests.filter((r) => JSON.stringify(r.body).includes(id))).toHaveLength(1);
  });

  it('5 per minute holds across both: 5 sent on A and 5 on B, 5 served', { timeout: 120_000 }, async () => {
    const user = await signUp();
    const onA = await connect(webA.url, user.accessToken);
    const onB = await connect(webB.url, user.accessToken);
    const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => send(i % 2 ? onB : onA, randomUUID(), 'BTC?')));
    expect(acks.filter((a) => a.ok)).toHaveLength(5);
    const refused = acks.filter((a) => !a.ok);
    expect(refused).toHaveLength(5);
    for (const a of refused) expect(a).toMatchObject({ ok: false, error: { code: 'rate_limited', message: expect.stringMatching(/Too many questions/) } });
  });

  it('the web client’s own transports connect through the balancer (6 of 6), on both instances', { timeout: 120_000 }, async () => {
    const user = await signUp();
    const before = proxy.routed.length;
    let working = 0;
    for (let i = 0; i < 6; i++) {
      const connection = createConnection({ url: proxy.url, token: user.accessToken, refresh: async () => ({ error: 'retryable' }) as never });
      const connected = new Promise<void>((resolve) => connection.onConnected(resolve));
      connection.start();
      await Promise.race([connected, new Promise((_, reject) => setTimeout(() => reject(new Error(`connection ${i} did not connect`)), 15_000))]);
      // A round trip on the session (not only the handshake): an unknown answer is not_found.
      const ack = await connection.socket.timeout(10_000).emitWithAck('chat:resume', { id: randomUUID(), fromSeq: -1 });
      if (!ack.ok && ack.error.code === 'not_found') working++;
      connection.close();
    }
    expect(working).toBe(6);
    expect(new Set(proxy.routed.slice(before))).toEqual(new Set([0, 1]));
  });

  it('sign-up through the balancer works (6 of 6) and a token from either instance is accepted by the other', { timeout: 120_000 }, async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) tokens.push((await signUp()).accessToken);
    // Signed in on A, used on B, and the other way round.
    const direct = (url: string) => createClient(url, anonKey, { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } });
    const email = `direct-${Date.now()}@example.com`;
    const onA = await direct(webA.url).auth.signUp({ email, password: 'correct horse battery' });
    const onB = await direct(webB.url).auth.signInWithPassword({ email, password: 'correct horse battery' });
    tokens.push(onA.data.session!.access_token, onB.data.session!.access_token);
    for (const token of tokens) {
      for (const url of [webA.url, webB.url]) {
        const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
        expect(me.status).toBe(200);
      }
    }
  });

  it('kill -9 of web A with 20 answers streaming: each client is told answer_lost on resume at B, every reservation is released', { timeout: 180_000 }, async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => signUp()));
    const before = new Map<string, number>();
    for (const u of users) before.set(u.userId, await balanceOf(u.userId));
    const answers: Array<{ id: string; token: string; lastSeq: number }> = [];
    let speaking = 0;
    for (const user of users) {
      const socket = await connect(webA.url, user.accessToken);
      socket.on('chat:token', (e) => {
        const a = answers.find((x) => x.id === e.id)!;
        if (a.lastSeq < 0) speaking++;
        a.lastSeq = e.seq;
      });
      for (let i = 0; i < 5; i++) {
        const id = randomUUID();
        answers.push({ id, token: user.accessToken, lastSeq: -1 });
        expect(await send(socket, id, `slow ${i}`)).toMatchObject({ ok: true });
      }
    }
    for (let i = 0; i < 400 && speaking < 20; i++) await new Promise((r) => setTimeout(r, 25));
    expect(speaking).toBe(20);

    webA.child.kill('SIGKILL');
    await webA.exited;
    const told = await Promise.all(
      answers.map(async (a) => {
        const socket = await connect(webB.url, a.token);
        return new Promise<Ack<unknown>>((resolve) => socket.emit('chat:resume', { id: a.id, fromSeq: a.lastSeq }, resolve as never));
      }),
    );
    expect(told.filter((t) => !t.ok && t.error.code === 'answer_lost')).toHaveLength(20);

    // B's sweeper (leader now) settles what A held: nothing stays reserved, each user paid at most what was delivered.
    const open = async () => (await db.query<{ n: number }>('select count(*)::int as n from zmarty_private.answers_in_flight'))[0]!.n;
    for (let i = 0; i < 200 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await open()).toBe(0);
    const settles = await db.query<{ user_id: string; request_id: string; charged: number }>(
      `select s.user_id, s.request_id, -(r.delta + s.delta) as charged from public.credits_ledger s
         join public.credits_ledger r on r.user_id = s.user_id and r.request_id = s.request_id and r.reason = 'reserve'
        where s.reason = 'settle' and s.request_id = any($1)`,
      [answers.map((a) => a.id)],
    );
    expect(settles).toHaveLength(20);
    for (const u of users) {
      const charged = settles.filter((s) => s.user_id === u.userId).reduce((sum, s) => sum + s.charged, 0);
      expect(await balanceOf(u.userId)).toBe(before.get(u.userId)! - charged);
    }
  });
});
