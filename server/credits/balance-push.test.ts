import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { BALANCE_CHANNEL } from './balance-push';

/**
 * The balance a user's sockets are told comes from the ledger's own
 * transaction (sql/chat/0019): whoever changes it, whichever instance holds
 * the socket, and only once the change is committed.
 */
describe('balance push', () => {
  let a: TestServer;
  let b: TestServer;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    a = await startTestServer();
    b = await startTestServer({}, { sameDatabasesAs: a });
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await b?.close();
    await a?.close();
  });

  const listening = async (server: TestServer, token: string) => {
    const socket = await connectSocket(server.url, token);
    sockets.push(socket);
    const heard: number[] = [];
    socket.on('credits:balance', (e) => heard.push(e.balance));
    return heard;
  };
  const balanceOf = async (userId: string) =>
    (await a.chatDb.query<{ balance: number }>('select balance from zmarty_private.credit_balances where user_id = $1', [userId]))[0]!.balance;
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('tells every socket of the user, on every instance, about a change no answer made (an operator grant)', async () => {
    const user = await a.signUp();
    const onA = await listening(a, user.accessToken);
    const onB = await listening(b, user.accessToken);
    const other = await a.signUp();
    const onOther = await listening(b, other.accessToken);
    const before = await balanceOf(user.userId);

    await a.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, 250, 'grant', $2)`, [user.userId, `grant-${randomUUID()}`]);
    for (let i = 0; i < 40 && (onA.length < 1 || onB.length < 1); i++) await new Promise((r) => setTimeout(r, 50));

    expect(onA).toEqual([before + 250]);
    expect(onB).toEqual([before + 250]);
    expect(onOther).toEqual([]);
  });

  it('says nothing for a reservation, nor for a change rolled back', async () => {
    const user = await a.signUp();
    const heard = await listening(b, user.accessToken);
    const before = await balanceOf(user.userId);

    await a.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, -10, 'reserve', $2)`, [user.userId, `r-${randomUUID()}`]);
    const client = await a.chatDb.pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, 99, 'grant', $2)`, [user.userId, `g-${randomUUID()}`]);
      await client.query('rollback');
    } finally {
      client.release();
    }
    await settle();
    expect(heard).toEqual([]);
    expect(await balanceOf(user.userId)).toBe(before - 10);
  });

  it('skips a notification it cannot read and goes on with the next', async () => {
    const user = await a.signUp();
    const heard = await listening(a, user.accessToken);
    for (const junk of ['not json', JSON.stringify({ user: user.userId, balance: '12' }), JSON.stringify({ user: user.userId, balance: 1.5 })]) {
      await a.chatDb.query('select pg_notify($1, $2)', [BALANCE_CHANNEL, junk]);
    }
    await a.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, 5, 'grant', $2)`, [user.userId, `g-${randomUUID()}`]);
    for (let i = 0; i < 40 && heard.length < 1; i++) await new Promise((r) => setTimeout(r, 50));
    await settle();
    expect(heard).toEqual([await balanceOf(user.userId)]);
  });
});
