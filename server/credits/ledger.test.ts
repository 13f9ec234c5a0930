import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { createLedger, type Ledger } from './ledger';

describe('credits ledger', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  let ledger: Ledger;
  const newUser = async (tier = 'free') => {
    const [row] = await db.query<{ id: string }>(`insert into auth.users (email, raw_app_meta_data) values ($1, $2) returning id`, [
      `u${Math.random()}@example.com`,
      JSON.stringify({ tier }),
    ]);
    return row!.id;
  };
  const reserve = (userId: string, requestId: string, amount: number, maxOpen?: number) =>
    ledger.reserve({ userId, requestId, amount, instanceId: 'test-instance', maxOpen });
  const openAnswers = async (userId: string) =>
    (await db.query<{ n: number }>('select count(*)::int as n from zmarty_private.answers_in_flight where user_id = $1', [userId]))[0]!.n;
  const settleInput = (userId: string, requestId: string, cost: number) => ({
    userId, requestId, cost, provider: 'local', model: 'analyst', inputTokens: 10, outputTokens: 20, voiceCharacters: 0, estimated: false,
  });

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 20 });
    ledger = createLedger({ chatDb: db });
  });
  afterAll(async () => {
    await db.close();
    await databases.drop();
  });

  it('reserves, then settles refunding what was not used', async () => {
    const user = await newUser();
    await reserve(user, 'r1', 100);
    expect(await ledger.balance(user)).toBe(900);
    expect(await ledger.settle(settleInput(user, 'r1', 37))).toEqual({ charged: 37, balance: 963 });
  });

  it('answers a request id once: a second reserve of an open or settled id is a conflict and writes nothing', async () => {
    const user = await newUser();
    await reserve(user, 'r2', 50);
    await expect(reserve(user, 'r2', 50)).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('resume') });
    await ledger.settle(settleInput(user, 'r2', 20));
    expect(await ledger.settle(settleInput(user, 'r2', 45))).toEqual({ charged: 20, balance: 980 });
    await expect(reserve(user, 'r2', 50)).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('already answered') });
    const rows = await db.query('select reason from public.credits_ledger where request_id = $1 order by id', ['r2']);
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'settle']);
  });

  it('gives one of 20 concurrent reserves of the same id the reservation, and the others a conflict', async () => {
    const user = await newUser();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => reserve(user, 'same-id', 10)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(19).fill('conflict'));
    expect(await ledger.balance(user)).toBe(990);
  });

  it('tracks each open reservation as an answer in flight until it is settled', async () => {
    const user = await newUser();
    await reserve(user, 'open-1', 10);
    await reserve(user, 'open-2', 10);
    expect(await openAnswers(user)).toBe(2);
    await ledger.settle(settleInput(user, 'open-1', 3));
    expect(await openAnswers(user)).toBe(1);
  });

  it('caps the answers a user has open under the profile lock, across 30 concurrent reserves', async () => {
    const user = await newUser();
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => reserve(user, `cap-${i}`, 1, 2)));
    const granted = results.filter((r) => r.status === 'fulfilled').length;
    const limited = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'rate_limited').length;
    expect([granted, limited]).toEqual([2, 28]);
    expect(await openAnswers(user)).toBe(2);
    // Settling one frees a slot.
    const first = results.find((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof reserve>>> => r.status === 'fulfilled')!.value;
    await ledger.settle(settleInput(user, first.requestId, 1));
    await expect(reserve(user, 'cap-next', 1, 2)).resolves.toMatchObject({ reserved: 1 });
  });

  it("caps the answers in progress at the user's tier's max_concurrent, read by the reserve statement itself", async () => {
    const user = await newUser('free');
    await db.query(`update public.tier_grants set max_concurrent = 1 where tier = 'free'`);
    await db.query(`update public.tier_grants set max_concurrent = 3 where tier = 'pro'`);
    try {
      await reserve(user, 'tier-1', 1);
      await expect(reserve(user, 'tier-2', 1)).rejects.toMatchObject({ code: 'rate_limited', message: expect.stringContaining('At most 1 answers') });
      // A tier change applies to the very next reservation: nothing to restart, nothing cached.
      await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [user]);
      await reserve(user, 'tier-2', 1);
      await reserve(user, 'tier-3', 1);
      await expect(reserve(user, 'tier-4', 1)).rejects.toMatchObject({ code: 'rate_limited', message: expect.stringContaining('At most 3 answers') });
      // And so does a change of the tier's own limit.
      await db.query(`update public.tier_grants set max_concurrent = 4 where tier = 'pro'`);
      await reserve(user, 'tier-4', 1);
      expect(await openAnswers(user)).toBe(4);
    } finally {
      await db.query(`update public.tier_grants set max_concurrent = 2 where tier = 'free'`);
      await db.query(`update public.tier_grants set max_concurrent = 4 where tier = 'pro'`);
    }
  });

  it('caps a charge at the reservation, so the balance never goes negative', async () => {
    const user = await newUser();
    await reserve(user, 'r3', 1000);
    expect(await ledger.settle(settleInput(user, 'r3', 5000))).toEqual({ charged: 1000, balance: 0 });
    await expect(reserve(user, 'r4', 1)).rejects.toMatchObject({ code: 'insufficient_credits' });
  });

  it('grants exactly what the balance covers to 50 concurrent reservations', async () => {
    const user = await newUser();
    const results = await Promise.allSettled(
      // No cap on answers in progress here: the balance alone decides.
      Array.from({ length: 50 }, (_, i) => reserve(user, `c${i}-${user}`, 200, 1000)),
    );
    const granted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'insufficient_credits').length;
    expect([granted, refused]).toEqual([5, 45]);
    expect(await ledger.balance(user)).toBe(0);
  });

  it('scopes request ids per user: another user may use the same id, and learns nothing of it', async () => {
    const [a, b] = [await newUser(), await newUser()];
    await reserve(a, 'shared', 10);
    await expect(reserve(b, 'shared', 10)).resolves.toMatchObject({ requestId: 'shared', userId: b, reserved: 10 });
    expect(await ledger.settle(settleInput(b, 'shared', 4))).toEqual({ charged: 4, balance: 996 });
    expect(await ledger.settle(settleInput(a, 'shared', 7))).toEqual({ charged: 7, balance: 993 });
  });

  it('reserves the whole balance when it covers a minimal answer but not the full budget, and refuses below the minimum', async () => {
    const user = await newUser();
    await reserve(user, 'spend-most', 970);
    await ledger.settle(settleInput(user, 'spend-most', 970));
    expect(await ledger.balance(user)).toBe(30);
    await expect(ledger.reserve({ userId: user, requestId: 'small', amount: 45, minAmount: 31, instanceId: 'i' })).rejects.toMatchObject({
      code: 'insufficient_credits',
      message: expect.stringContaining('31'),
    });
    await expect(ledger.reserve({ userId: user, requestId: 'small', amount: 45, minAmount: 5, instanceId: 'i', question: 'BTC now?' })).resolves.toMatchObject({ reserved: 30 });
    const [row] = await db.query<{ delta: number; question: string }>(`select delta, question from public.credits_ledger where request_id = 'small' and reason = 'reserve'`);
    expect(row).toEqual({ delta: -30, question: 'BTC now?' });
    expect((await db.query<{ reserved: number }>(`select reserved from zmarty_private.answers_in_flight where user_id = $1`, [user]))[0]!.reserved).toBe(30);
  });

  it('extends an open reservation for a fallback by what the balance allows, once, and settles against the total', async () => {
    const user = await newUser();
    await reserve(user, 'fallback', 300);
    // 700 left: an extension of 800 needing at least 750 adds nothing; one needing 10 takes the whole balance.
    expect(await ledger.extend({ userId: user, requestId: 'fallback', amount: 800, minAmount: 750 })).toEqual({ added: 0, reserved: 300, balance: 700 });
    expect(await ledger.extend({ userId: user, requestId: 'fallback', amount: 800, minAmount: 10 })).toEqual({ added: 700, reserved: 1000, balance: 0 });
    expect((await db.query<{ reserved: number }>(`select reserved from zmarty_private.answers_in_flight where user_id = $1`, [user]))[0]!.reserved).toBe(1000);
    expect(await ledger.settle(settleInput(user, 'fallback', 420))).toEqual({ charged: 420, balance: 580 });
    // Settled: nothing more can be added to it.
    await expect(ledger.extend({ userId: user, requestId: 'fallback', amount: 1 })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('adds one extension per answer, even to concurrent requests, and never past the balance', async () => {
    const user = await newUser();
    await reserve(user, 'race-base', 100);
    const [extensions, reservations] = await Promise.all([
      Promise.allSettled(Array.from({ length: 10 }, () => ledger.extend({ userId: user, requestId: 'race-base', amount: 200, minAmount: 1 }))),
      Promise.allSettled(Array.from({ length: 10 }, (_, i) => reserve(user, `race-${i}`, 200))),
    ]);
    const added = extensions.map((r) => (r.status === 'fulfilled' ? r.value.added : -1)).filter((n) => n !== 0);
    expect(added).toHaveLength(1);
    const reserved = reservations.filter((r) => r.status === 'fulfilled').length * 200;
    expect(added[0]! + reserved).toBeLessThanOrEqual(900);
    expect(await ledger.balance(user)).toBe(900 - added[0]! - reserved);
    expect(await ledger.balance(user)).toBeGreaterThanOrEqual(0);
    const rows = await db.query(`select 1 from public.credits_ledger where request_id = 'race-base' and reason = 'extend'`);
    expect(rows).toHaveLength(1);
  });
  it('keeps the maintained balance equal to the sum of the ledger through concurrent reserves, extensions, settlements and grants', async () => {
    const users = [await newUser(), await newUser(), await newUser('pro')];
    // Concurrent activity on every user: answers reserved, some extended, all settled; operator-style grants inserted directly.
    await Promise.all(
      users.flatMap((user, u) =>
        Array.from({ length: 12 }, async (_, i) => {
          const id = `bal-${u}-${i}`;
          try {
            await reserve(user, id, 40 + i, 50);
          } catch {
            return; // refused (balance): nothing to settle
          }
          if (i % 3 === 0) await ledger.extend({ userId: user, requestId: id, amount: 25, minAmount: 1 });
          if (i % 4 === 0) await db.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, 7, 'grant', $2)`, [user, `g-${id}`]);
          await ledger.settle(settleInput(user, id, (i * 7) % 60));
        }),
      ),
    );
    const rows = await db.query<{ user_id: string; maintained: number; summed: number }>(
      `select u.id as user_id, coalesce(b.balance, 0)::int as maintained, (select coalesce(sum(delta), 0) from public.credits_ledger l where l.user_id = u.id)::int as summed
         from auth.users u left join zmarty_private.credit_balances b on b.user_id = u.id where u.id = any($1::uuid[])`,
      [users],
    );
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.maintained).toBe(row.summed);
    // And the readers' view is unchanged: credit_balance still sums the ledger, and agrees.
    const view = await db.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [users[0]]);
    expect(view[0]!.balance).toBe(rows.find((r) => r.user_id === users[0])!.maintained);
    expect(await ledger.balance(users[2]!)).toBe(rows.find((r) => r.user_id === users[2])!.summed);
  });
});
