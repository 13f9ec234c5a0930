import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, type UserClaims } from '../common/db';
import { createMigratedDatabases } from './databases';

/** Row Level Security on every chat table, proven with hand-written SQL run as the user. */
describe('chat database row level security', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  let alice: UserClaims;
  let bob: UserClaims;

  const createUser = async (email: string): Promise<UserClaims> => {
    const [row] = await db.query<{ id: string }>(`insert into auth.users (email) values ($1) returning id`, [email]);
    return { sub: row!.id, role: 'authenticated' };
  };

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 4 });
    alice = await createUser('alice@example.com');
    bob = await createUser('bob@example.com');
    await db.asUser(alice, (q) => q.query(`insert into public.user_symbols (symbol, timeframe) values ('BTC/USDT', '1h')`));
  });
  afterAll(async () => {
    await db.close();
    await databases.drop();
  });

  it('gives a new user a profile and the starting grant in the same transaction', async () => {
    const rows = await db.query(`select p.tier, b.balance from public.profiles p join public.credit_balance b using (user_id) where user_id = $1`, [alice.sub]);
    expect(rows).toEqual([{ tier: 'free', balance: 1000 }]);
  });

  it('lets a user read only their own rows in every table and view', async () => {
    await db.asUser(bob, async (q) => {
      expect((await q.query('select * from public.profiles')).rows.map((r) => r.user_id)).toEqual([bob.sub]);
      expect((await q.query('select * from public.user_symbols')).rows).toEqual([]);
      expect((await q.query('select user_id from public.credits_ledger')).rows.map((r) => r.user_id)).toEqual([bob.sub]);
      expect((await q.query('select user_id from public.credit_balance')).rows.map((r) => r.user_id)).toEqual([bob.sub]);
      expect((await q.query('select * from public.profiles where user_id = $1', [alice.sub])).rows).toEqual([]);
    });
  });

  it("stops user B from updating or deleting user A's rows", async () => {
    await db.asUser(bob, async (q) => {
      expect((await q.query(`update public.profiles set display_name = 'pwned' where user_id = $1`, [alice.sub])).rowCount).toBe(0);
      expect((await q.query(`delete from public.user_symbols where user_id = $1`, [alice.sub])).rowCount).toBe(0);
      expect((await q.query(`update public.user_symbols set timeframe = '4h' where user_id = $1`, [alice.sub])).rowCount).toBe(0);
    });
    const [row] = await db.query(`select count(*)::int as n from public.user_symbols where user_id = $1 and timeframe = '1h'`, [alice.sub]);
    expect(row).toEqual({ n: 1 });
  });

  it("stops user B from inserting rows in user A's name", async () => {
    await expect(
      db.asUser(bob, (q) => q.query(`insert into public.user_symbols (user_id, symbol) values ($1, 'ETH/USDT')`, [alice.sub])),
    ).rejects.toThrow(/row-level security/);
  });

  it('never lets a user write the ledger, not even for themselves, nor raise their own tier', async () => {
    await expect(
      db.asUser(bob, (q) => q.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, 1000000, 'grant', 'x')`, [bob.sub])),
    ).rejects.toThrow(/permission denied/);
    await expect(db.asUser(bob, (q) => q.query(`update public.credits_ledger set delta = 999999`))).rejects.toThrow(/permission denied/);
    await expect(db.asUser(bob, (q) => q.query(`delete from public.credits_ledger`))).rejects.toThrow(/permission denied/);
    await expect(db.asUser(bob, (q) => q.query(`update public.profiles set tier = 'pro'`))).rejects.toThrow(/permission denied/);
  });

  it('lets the service role append to the ledger, idempotently per request id and step', async () => {
    const insert = (q: Parameters<Parameters<Db['asServiceRole']>[0]>[0]) =>
      q.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, -5, 'reserve', 'req-1') on conflict (user_id, request_id, reason) do nothing`, [bob.sub]);
    await db.asServiceRole(insert);
    await db.asServiceRole(insert);
    const [row] = await db.query(`select balance from public.credit_balance where user_id = $1`, [bob.sub]);
    expect(row).toEqual({ balance: 995 });
  });

  it('keeps the ledger append-only even for the database owner', async () => {
    await expect(db.query(`update public.credits_ledger set delta = 0`)).rejects.toThrow(/append-only/);
    await expect(db.query(`delete from public.credits_ledger`)).rejects.toThrow(/append-only/);
  });

  it('rejects malformed symbols at the database too', async () => {
    await expect(db.asUser(alice, (q) => q.query(`insert into public.user_symbols (symbol) values ('BTCUSDT;drop')`))).rejects.toThrow(/check constraint/);
  });
});
