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
    await ledger.reserve({ userId: user, requestId: 'r1', amount: 100 });
    expect(await ledger.balance(user)).toBe(900);
    expect(await ledger.settle(settleInput(user, 'r1', 37))).toEqual({ charged: 37, balance: 963 });
  });

  it('is idempotent: a retried reserve or settle writes nothing new', async () => {
    const user = await newUser();
    const first = await ledger.reserve({ userId: user, requestId: 'r2', amount: 50 });
    const again = await ledger.reserve({ userId: user, requestId: 'r2', amount: 50 });
    expect([first.created, again.created]).toEqual([true, false]);
    await ledger.settle(settleInput(user, 'r2', 20));
    expect(await ledger.settle(settleInput(user, 'r2', 45))).toEqual({ charged: 20, balance: 980 });
    expect((await ledger.reserve({ userId: user, requestId: 'r2', amount: 50 })).settled).toBe(true);
    const rows = await db.query('select reason from public.credits_ledger where request_id = $1 order by id', ['r2']);
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'settle']);
  });

  it('caps a charge at the reservation, so the balance never goes negative', async () => {
    const user = await newUser();
    await ledger.reserve({ userId: user, requestId: 'r3', amount: 1000 });
    expect(await ledger.settle(settleInput(user, 'r3', 5000))).toEqual({ charged: 1000, balance: 0 });
    await expect(ledger.reserve({ userId: user, requestId: 'r4', amount: 1 })).rejects.toMatchObject({ code: 'insufficient_credits' });
  });

  it('grants exactly what the balance covers to 50 concurrent reservations', async () => {
    const user = await newUser();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => ledger.reserve({ userId: user, requestId: `c${i}-${user}`, amount: 200 })),
    );
    const granted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'insufficient_credits').length;
    expect([granted, refused]).toEqual([5, 45]);
    expect(await ledger.balance(user)).toBe(0);
  });

  it('refuses to reuse another user’s request id', async () => {
    const [a, b] = [await newUser(), await newUser()];
    await ledger.reserve({ userId: a, requestId: 'shared', amount: 10 });
    await expect(ledger.reserve({ userId: b, requestId: 'shared', amount: 10 })).rejects.toMatchObject({ code: 'conflict' });
  });
});
