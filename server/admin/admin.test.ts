import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ADMIN_CLI = path.join(ROOT, 'server/admin/admin.cli.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command as its own process with exactly `env` (plus PATH/HOME); resolves with its exit code and output. */
function run(file: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? options.cwd, ...options.env }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/**
 * `npm run admin` as the operator runs it: a real process on the server's
 * databases, against two real server instances whose behaviour it changes.
 */
describe('npm run admin (credits and tiers)', () => {
  let a: TestServer;
  let b: TestServer;
  let cwd: string;
  const admin = (...args: string[]) =>
    run(process.execPath, ['--import', TSX_LOADER, ADMIN_CLI, ...args], {
      cwd,
      env: { CHAT_DATABASE_URL: a.chatUrl, TRADING_DATABASE_URL: a.tradingUrl, DATA_DIR: cwd },
    });
  const json = (r: Run) => {
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };
  const adminRows = (userId: string) =>
    a.chatDb.query<{ delta: number; reason: string; note: string | null }>(
      `select delta, reason, note from public.credits_ledger where user_id = $1 and reason in ('grant', 'adjustment', 'tier') and request_id like 'admin-%' order by id`,
      [userId],
    );

  beforeAll(async () => {
    // Slow local answers (so two overlap). Tiers are cached for the default TIER_CACHE_MS (5 min): a change must reach
    // the instances through the database's notification.
    const settings = { LOCAL_ANALYST_TOKEN_DELAY_MS: '40', CHAT_TOKEN_COALESCE_MS: '0' };
    a = await startTestServer(settings);
    b = await startTestServer(settings, { sameDatabasesAs: a });
    // A directory of its own: no developer `.env` is read.
    cwd = await mkdtemp(path.join(os.tmpdir(), 'zmarty-admin-'));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('grants, takes back and changes tier, each as one ledger row with its note; a retried grant with the same id changes nothing', { timeout: 180_000 }, async () => {
    const { email, userId, accessToken } = await a.signUp();
    expect(json(await admin('grant', email, '500', '--note', 'support ticket 12', '--id', 'ticket-12', '--json'))).toMatchObject({ applied: true, balance: 1500 });
    expect(json(await admin('grant', email, '500', '--id', 'ticket-12', '--json'))).toMatchObject({ applied: false, balance: 1500 });
    const reused = await admin('grant', email, '700', '--id', 'ticket-12');
    expect(reused.code).toBe(1);
    expect(reused.stderr).toContain('already used for 500 credits');
    expect(json(await admin('grant', email, '-200', '--note', 'duplicate refund', '--json'))).toMatchObject({ applied: true, balance: 1300 });
    const overdraw = await admin('grant', email, '-5000');
    expect(overdraw.code).toBe(1);
    expect(overdraw.stderr).toContain(`cannot take back 5000 credits: the balance of ${email} is 1300`);
    expect(json(await admin('tier', email.toUpperCase(), 'pro', '--note', 'annual plan', '--json'))).toMatchObject({ changed: true, from: 'free', to: 'pro' });
    expect(json(await admin('tier', email, 'pro', '--json'))).toMatchObject({ changed: false });

    expect(await adminRows(userId)).toEqual([
      { delta: 500, reason: 'grant', note: 'support ticket 12' },
      { delta: -200, reason: 'adjustment', note: 'duplicate refund' },
      { delta: 0, reason: 'tier', note: 'tier free → pro: annual plan' },
    ]);
    const account = json(await admin('balance', email, '--json'));
    expect(account).toMatchObject({ email, userId, balance: 1300, held: 0, tier: { tier: 'pro', maxConcurrent: 4, voiceAllowed: true } });
    expect(account.recent.map((r: { reason: string }) => r.reason)).toEqual(['tier', 'adjustment', 'grant', 'grant']);
    const text = await admin('balance', email);
    expect(text.stdout).toContain('balance  1300 credits');
    // The user sees the same through the product.
    const me = await (await fetch(`${b.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
    expect(me).toMatchObject({ tier: 'pro', balance: 1300, limits: { maxConcurrent: 4, maxOutputTokens: 2048, voiceAllowed: true } });
  });

  it("does not take a user's question whose id reads like a grant's for that grant: the operator's grant with the id still applies", { timeout: 180_000 }, async () => {
    const { email, userId, accessToken } = await a.signUp();
    const socket = await connectSocket(a.url, accessToken);
    try {
      // Its reserve and settle rows carry that request id.
      expect((await ask(socket, { id: 'admin-grant:ticket-77', message: 'How is BTC?' })).done?.status).toBe('complete');
    } finally {
      socket.close();
    }
    const [row] = await a.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [userId]);
    const balance = Number(row!.balance);
    expect(balance).toBeLessThan(1000); // the answer was charged
    expect(json(await admin('grant', email, '300', '--id', 'ticket-77', '--json'))).toMatchObject({ applied: true, balance: balance + 300 });
    expect(json(await admin('grant', email, '300', '--id', 'ticket-77', '--json'))).toMatchObject({ applied: false, balance: balance + 300 });
    expect((await adminRows(userId)).map((r) => r.delta)).toEqual([300]);
  });

  it('grants once when the same grant (same --id) is run twice at the same moment', { timeout: 180_000 }, async () => {
    const { email, userId } = await a.signUp();
    const runs = await Promise.all([admin('grant', email, '300', '--id', 'race', '--json'), admin('grant', email, '300', '--id', 'race', '--json')]);
    expect(runs.map((r) => json(r).applied).sort()).toEqual([false, true]);
    expect(await adminRows(userId)).toEqual([{ delta: 300, reason: 'grant', note: 'granted by an operator' }]);
  });

  it('refuses an unknown email, an unknown tier and a bad number with a clear message and a non-zero exit, writing nothing', { timeout: 180_000 }, async () => {
    const { email, userId } = await a.signUp();
    const cases: Array<[string[], number, string]> = [
      [['grant', 'nobody@example.com', '5'], 1, 'no user with email nobody@example.com'],
      [['tier', email, 'gold'], 1, 'unknown tier "gold" (tiers: free, pro)'],
      [['balance', 'nobody@example.com'], 1, 'no user with email nobody@example.com'],
      [['grant', email, '12.5'], 2, 'CREDITS must be a whole number of credits (got "12.5")'],
      [['grant', email, 'lots'], 2, 'CREDITS must be a whole number'],
      [['grant', email, '0'], 2, 'CREDITS must not be 0'],
      [['grant', email, '99999999999'], 2, 'CREDITS must be between'],
      [['grant', email], 2, 'grant needs EMAIL CREDITS'],
      [['promote', email], 2, 'unknown command "promote"'],
      [['grant', email, '5', '--bogus'], 2, "Unknown option '--bogus'"],
    ];
    for (const [args, code, message] of cases) {
      const result = await admin(...args);
      expect({ args, code: result.code }).toEqual({ args, code });
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(await adminRows(userId)).toEqual([]);
  });

  it('lists the tiers with their limits (through `npm run admin`)', { timeout: 180_000 }, async () => {
    const npm = await run('npm', ['run', '--silent', 'admin', '--', 'tiers', '--json'], {
      cwd: ROOT,
      env: { CHAT_DATABASE_URL: a.chatUrl, TRADING_DATABASE_URL: a.tradingUrl, DATA_DIR: cwd },
    });
    expect(json(npm)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ tier: 'free', startingCredits: 1000, chatPerMinute: 40, maxConcurrent: 2, maxOutputTokens: 1024, voiceAllowed: true }),
        expect.objectContaining({ tier: 'pro', startingCredits: 20000, chatPerMinute: 120, maxConcurrent: 4, maxOutputTokens: 2048, voiceAllowed: true }),
      ]),
    );
  });

  describe('limits follow the tier on every instance, without a restart', () => {
    const sockets: ClientSocket[] = [];
    beforeAll(async () => {
      await a.chatDb.query(`update public.tier_grants set max_concurrent = 1, voice_allowed = false, chat_per_minute = 3 where tier = 'free'`);
    });
    afterAll(async () => {
      for (const s of sockets) s.close();
      await a.chatDb.query(`update public.tier_grants set max_concurrent = 2, voice_allowed = true, chat_per_minute = 40 where tier = 'free'`);
    });
    const connect = async (server: TestServer, token: string) => {
      const socket = await connectSocket(server.url, token);
      sockets.push(socket);
      return socket;
    };
    const prices = async (server: TestServer, token: string) =>
      (await (await fetch(`${server.url}/api/credits/prices`, { headers: { authorization: `Bearer ${token}` } })).json()) as { maxOutputTokens: number };
    /** Polls until `check` passes: the tier change's notification reaches each instance after the commit. */
    const eventually = async (check: () => Promise<void>) => {
      for (let i = 0; ; i++) {
        try {
          return await check();
        } catch (err) {
          if (i >= 40) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };

    it('a free user is refused voice and a second answer at a time; moved to pro by the CLI, the other instance allows both', { timeout: 180_000 }, async () => {
      const { email, accessToken, userId } = await a.signUp();
      const onA = await connect(a, accessToken);
      const spoken = await ask(onA, { id: 'voice-free', message: 'How is BTC?', voice: true });
      expect(spoken.ack).toEqual({ ok: false, error: { code: 'forbidden', message: 'Spoken answers are not included in the free tier; ask without voice' } });
      // Refused before anything was reserved.
      expect(await a.chatDb.query(`select 1 from public.credits_ledger where user_id = $1 and request_id = 'voice-free'`, [userId])).toEqual([]);

      const first = ask(onA, { id: 'free-1', message: 'Explain the BTC/USDT signal step by step' });
      await new Promise<void>((resolve) => onA.once('chat:token', () => resolve()));
      const second = await ask(onA, { id: 'free-2', message: 'How is ETH?' });
      expect(second.ack).toMatchObject({ ok: false, error: { code: 'rate_limited', message: 'At most 1 answers at a time; wait for one to finish' } });
      expect((await first).done?.status).toBe('complete');
      expect((await prices(b, accessToken)).maxOutputTokens).toBe(1024);

      expect(json(await admin('tier', email, 'pro', '--json'))).toMatchObject({ changed: true });

      // Instance B had the free tier cached (for 5 min): the database's notification of the change drops it.
      await eventually(async () => expect((await prices(b, accessToken)).maxOutputTokens).toBe(2048));
      const onB = await connect(b, accessToken);
      const both = await Promise.all([
        ask(onB, { id: 'pro-1', message: 'Explain the BTC/USDT signal step by step' }),
        ask(onB, { id: 'pro-2', message: 'How is ETH?', voice: true }),
      ]);
      expect(both.map((r) => r.ack.ok)).toEqual([true, true]);
      // No ElevenLabs key on these servers: the pro user's spoken answer comes as text with the voice notice.
      expect(both[1]!.errors.map((e) => e.code)).toEqual(['voice_unavailable']);
      expect(both.map((r) => r.done?.status)).toEqual(['complete', 'complete']);
    });

    it("answers per minute follow the tier: a free user's fourth question is refused on either instance until the CLI moves them to pro", { timeout: 180_000 }, async () => {
      const { email, accessToken } = await a.signUp();
      const chat = (server: TestServer) =>
        fetch(`${server.url}/chat`, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'Hi' }),
        });
      for (const server of [a, b, a]) expect((await chat(server)).status).toBe(200);
      const refused = await chat(b);
      expect(refused.status).toBe(429);
      expect((await refused.json()).error.code).toBe('rate_limited');

      expect(json(await admin('tier', email, 'pro', '--json'))).toMatchObject({ changed: true });
      // Same minute, same shared counter (4 used): pro allows 120.
      await eventually(async () => expect((await chat(b)).status).toBe(200));
      expect((await chat(a)).status).toBe(200);
    });
  });
});
