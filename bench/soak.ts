/**
 * Soak: two web (server/main.ts) and two worker (pipeline/main.ts) processes
 * on one pair of databases, behind a plain round-robin balancer, for
 * `--minutes` (default 10), with S concurrent answer streams (default 300,
 * a loopback OpenAI-wire mock as xAI Grok) and W watcher sockets (default
 * 1,000) subscribed to their users' pairs.
 *
 *   npx tsx bench/soak.ts [--minutes=10] [--streams=300] [--watchers=1000] [--users=100]
 *                         [--first-token-ms=50] [--token-ms=20] [--signal-every-s=5]
 *
 * Reports: added TTFT (time to first token minus the mock's own first-token
 * delay) p50/p99 per interval and overall; error rate (refused acks,
 * chat:error, answers without done in 60 s, over questions sent); RSS of each
 * process over time (flat = no growth after warm-up); the ledger reconciled
 * against the clients (every accepted request reserved once and settled
 * once, nothing left open, the credits charged equal to what the clients were
 * told); signals pushed against stored (each signal stored during the run
 * reaches every watcher socket subscribed to its pair, once); and the answer
 * journal's write cost (from the web processes' own log lines).
 * Besides whatever the pipeline stores, the soak stores one signal every
 * `--signal-every-s` (alternating pairs), so the push path is exercised even
 * when no candle closes during a short run.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import { forkChild, type ChildRpc } from './lib/child';
import { openBenchDatabases, type BenchDatabases } from './lib/databases';
import { fmt, summarize } from './lib/stats';
import { startRoundRobinProxy, type RoundRobinProxy } from '../test/round-robin-proxy';
import { startWebProcess, startWorkerProcess, type WebProcess } from '../test/web-process';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];
const SECRET = 'soak-secret-'.padEnd(48, 'x');

function parseArgs(argv: string[]) {
  const get = (name: string, fallback: number) => {
    const raw = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
    const value = raw === undefined ? fallback : Number(raw);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return {
    minutes: get('minutes', 10),
    streams: get('streams', 300),
    watchers: get('watchers', 1000),
    users: get('users', 100),
    firstTokenMs: get('first-token-ms', 50),
    tokenMs: get('token-ms', 20),
    signalEveryS: get('signal-every-s', 5),
  };
}

const rssMb = (pid: number) => {
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) / 1024;
  } catch {
    return Number.NaN;
  }
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => console.log(`[soak] ${m}`);
  log(`${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${args.minutes} min, ${args.streams} streams, ${args.watchers} watchers, ${args.users} users`);
  let databases: BenchDatabases | undefined;
  let mock: ChildRpc | undefined;
  let clients: ChildRpc | undefined;
  let proxy: RoundRobinProxy | undefined;
  const processes: Array<{ name: string; child: WebProcess['child']; output(): string; exited: WebProcess['exited'] }> = [];
  let chat: pg.Pool | undefined;
  let trading: pg.Pool | undefined;
  const cleanup = async () => {
    await clients?.stop().catch(() => undefined);
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(processes.map((p) => p.exited)), new Promise((r) => setTimeout(r, 40_000))]);
    for (const p of processes) p.child.kill('SIGKILL');
    await proxy?.close();
    await mock?.stop().catch(() => undefined);
    await chat?.end();
    await trading?.end();
    await databases?.close();
  };
  try {
    databases = await openBenchDatabases(log);
    chat = new pg.Pool({ connectionString: databases.chatUrl, max: 2 });
    trading = new pg.Pool({ connectionString: databases.tradingUrl, max: 2 });
    mock = await forkChild('bench/lib/mock-llm.process.ts');
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const { url: mockUrl } = await mock.call<{ url: string }>('start', { reply: { text: words, firstTokenDelayMs: args.firstTokenMs, tokenDelayMs: args.tokenMs } });
    const backends: string[] = [];
    proxy = await startRoundRobinProxy(backends);
    const webEnv = {
      CHAT_DATABASE_URL: databases.chatUrl,
      TRADING_DATABASE_URL: databases.tradingUrl,
      SUPABASE_JWT_SECRET: SECRET,
      PUBLIC_URL: proxy.url,
      WEBHOOK_SECRET: 'soak-webhook-secret-'.padEnd(40, 'w'),
      XAI_API_KEY: 'soak-key',
      XAI_BASE_URL: mockUrl,
      CHAT_MAX_PER_MINUTE: '10000',
      CHAT_MAX_CONCURRENT_PER_USER: '50',
      STARTING_CREDITS_FREE: '1000000000',
      AUTH_RATE_LIMIT_ATTEMPTS: '10000',
      DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX ?? '10',
      NODE_ENV: 'production',
    };
    const workerEnv = { TRADING_DATABASE_URL: databases.tradingUrl, TRACK_RECORD_HISTORY_CANDLES: '0', INGEST_CRON: '* * * * *', NODE_ENV: 'production' };
    log('starting 2 web and 2 worker processes');
    const [a, b, w1, w2] = await Promise.all([startWebProcess(webEnv), startWebProcess(webEnv), startWorkerProcess(workerEnv), startWorkerProcess(workerEnv)]);
    processes.push({ name: 'web A', ...a }, { name: 'web B', ...b }, { name: 'worker 1', ...w1 }, { name: 'worker 2', ...w2 });
    backends.push(a.url, b.url);

    // Users through the balancer, each watching both pairs (1m: the workers ingest them every minute).
    const anonKey = ((await (await fetch(`${proxy.url}/api/config`)).json()) as { supabaseAnonKey: string }).supabaseAnonKey;
    const users: Array<{ accessToken: string; userId: string; symbols: string[] }> = [];
    for (let i = 0; i < args.users; i += 10) {
      users.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, args.users - i) }, async (_, j) => {
            const res = await fetch(`${proxy!.url}/auth/v1/signup`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', apikey: anonKey },
              body: JSON.stringify({ email: `soak-${i + j}@example.com`, password: 'correct horse battery staple' }),
            });
            const body = (await res.json()) as { access_token: string; user: { id: string } };
            if (!res.ok) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(body)}`);
            return { accessToken: body.access_token, userId: body.user.id, symbols: SYMBOLS };
          }),
        )),
      );
    }
    await chat.query(
      `insert into public.user_symbols (user_id, symbol, timeframe) select u, s, '1m' from unnest($1::uuid[]) u cross join unnest($2::text[]) s`,
      [users.map((u) => u.userId), SYMBOLS],
    );
    for (let i = 0; i < 240; i++) {
      const { rows } = await chat.query<{ n: number }>('select count(*)::int as n from public.watchers_outbox where delivered_at is null');
      if (!rows[0]!.n) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    log(`${users.length} users signed up through the balancer, watching ${SYMBOLS.join(' and ')}`);

    clients = await forkChild('bench/lib/soak-clients.process.ts', { execArgv: ['--max-old-space-size=2048'] });
    const users4clients = users.map((u) => ({ accessToken: u.accessToken, symbols: u.symbols }));
    await clients.call('watchers', { url: proxy.url, users: users4clients, count: args.watchers }, 600_000);
    log(`${args.watchers} watcher sockets subscribed`);
    const { rows: startRows } = await trading.query<{ max: number }>('select coalesce(max(id), 0)::bigint as max from public.signals');
    const firstSignalId = startRows[0]!.max;
    await clients.call('streams', { url: proxy.url, users: users4clients, count: args.streams, message: 'What is the BTC/USDT signal?', timeoutMs: 60_000 }, 600_000);
    log(`${args.streams} streams running`);

    const started = Date.now();
    const endAt = started + args.minutes * 60_000;
    const intervals: Array<{ t: number; ttft: ReturnType<typeof summarize>; rss: number[]; connected: number; done: number }> = [];
    const allTtft: number[] = [];
    let signalTurn = 0;
    let nextSignal = Date.now() + args.signalEveryS * 1000;
    const intervalMs = Math.min(30_000, Math.max(10_000, (args.minutes * 60_000) / 12));
    let nextSample = Date.now() + intervalMs;
    while (Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, 250));
      if (Date.now() >= nextSignal) {
        nextSignal += args.signalEveryS * 1000;
        const symbol = SYMBOLS[signalTurn++ % SYMBOLS.length]!;
        await trading.query(
          `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
           values ($1, '1d', now() + make_interval(secs => $2), 'long', 70, 100, 95, 110, '[]')`,
          [symbol, signalTurn],
        );
      }
      if (Date.now() >= nextSample) {
        nextSample += intervalMs;
        const s = await clients.call<{ ttftMs: number[]; totals: { done: number }; connected: number }>('sample');
        allTtft.push(...s.ttftMs);
        const added = s.ttftMs.map((t) => t - args.firstTokenMs);
        const row = { t: Math.round((Date.now() - started) / 1000), ttft: summarize(added), rss: processes.map((p) => rssMb(p.child.pid!)), connected: s.connected, done: s.totals.done };
        intervals.push(row);
        log(
          `t=${row.t}s answers ${row.done}; added TTFT p50 ${fmt(row.ttft.p50, 0)} ms p99 ${fmt(row.ttft.p99, 0)} ms; RSS ${row.rss.map((r, i) => `${processes[i]!.name} ${fmt(r, 0)}`).join(', ')} MB; sockets ${row.connected}`,
        );
      }
    }
    const final = await clients.call<{ totals: { sent: number; accepted: number; refused: number; errors: number; done: number; timeouts: number; charged: number }; errorCodes: Record<string, number> }>('stopStreams', undefined, 120_000);
    const last = await clients.call<{ ttftMs: number[] }>('sample');
    allTtft.push(...last.ttftMs);
    // Let the last settlements and pushes land.
    await new Promise((r) => setTimeout(r, 3_000));

    // Ledger against the clients.
    const { rows: ledger } = await chat.query<{ reserves: number; settles: number; requests: number; charged: number; open: number }>(
      `select count(*) filter (where reason = 'reserve')::int as reserves,
              count(*) filter (where reason = 'settle')::int as settles,
              count(distinct request_id) filter (where reason = 'reserve')::int as requests,
              (-coalesce(sum(delta) filter (where reason in ('reserve', 'extend', 'settle')), 0))::bigint as charged,
              (select count(*)::int from zmarty_private.answers_in_flight) as open
         from public.credits_ledger`,
    );
    // This pool is plain pg: bigint arrives as text.
    const l = { ...ledger[0]!, charged: Number(ledger[0]!.charged) };
    const t = final.totals;
    const ledgerOk = l.reserves === t.accepted && l.settles === l.reserves && l.requests === l.reserves && l.open === 0 && l.charged === t.charged;

    // Signals: every one stored since the watchers subscribed, to every subscriber of its pair, once.
    const { rows: stored } = await trading.query<{ id: number; symbol: string }>('select id, symbol from public.signals where id > $1 order by id', [firstSignalId]);
    const pushes = await clients.call<{ subscribers: Record<string, number>; received: Record<string, number> }>('signals');
    let expected = 0;
    let lost = 0;
    let doubled = 0;
    for (const s of stored) {
      const want = pushes.subscribers[s.symbol] ?? 0;
      const got = pushes.received[String(s.id)] ?? 0;
      expected += want;
      lost += Math.max(0, want - got);
      doubled += Math.max(0, got - want);
    }

    // The journal's cost, from each web process's last 'answer journal: written' line.
    const journal = processes.slice(0, 2).map((p) => {
      const lines = p.output().split('\n').filter((line) => line.includes('answer journal: written'));
      const lastLine = lines.at(-1);
      return lastLine ? (JSON.parse(lastLine) as { journal: { flushes: number; rows: number; ms: number; maxMs: number; failures: number } }).journal : undefined;
    });

    const added = summarize(allTtft.map((x) => x - args.firstTokenMs));
    const errorRate = t.sent ? (t.refused + t.errors + t.timeouts) / t.sent : 0;
    const warm = intervals[Math.min(1, intervals.length - 1)];
    const end = intervals.at(-1);
    log('===== result =====');
    log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (the machine's other work shares these cores)`);
    log(`answers: sent ${t.sent}, accepted ${t.accepted}, done ${t.done}, refused ${t.refused}, chat:error ${t.errors}, no done in 60 s ${t.timeouts}; error rate ${(errorRate * 100).toFixed(3)} % ${JSON.stringify(final.errorCodes)}`);
    log(`added TTFT over the run: p50 ${fmt(added.p50, 1)} ms, p99 ${fmt(added.p99, 1)} ms (n=${added.count}; TTFT minus the mock's ${args.firstTokenMs} ms)`);
    log(`RSS MB after warm-up → end: ${processes.map((p, i) => `${p.name} ${fmt(warm?.rss[i] ?? NaN, 0)} → ${fmt(end?.rss[i] ?? NaN, 0)}`).join(', ')}`);
    log(`ledger: ${l.reserves} reserved, ${l.settles} settled, ${l.open} open; ${l.charged} credits charged vs ${t.charged} told to clients → ${ledgerOk ? '0 lost, 0 double' : 'MISMATCH'}`);
    log(`signals: ${stored.length} stored, ${expected} pushes expected, ${expected - lost} received once, ${lost} lost, ${doubled} doubled`);
    log(`answer journal: ${journal.map((j, i) => (j ? `web ${'AB'[i]} ${j.rows} rows in ${j.flushes} statements, ${fmt(j.ms / Math.max(1, j.flushes), 2)} ms mean, ${j.maxMs} ms max, ${j.failures} failed` : `web ${'AB'[i]} no figures yet`)).join('; ')}`);
    console.log(
      'BENCH_RESULT ' +
        JSON.stringify({
          bench: 'soak',
          minutes: args.minutes,
          streams: args.streams,
          watchers: args.watchers,
          addedTtftMs: { p50: added.p50, p99: added.p99, n: added.count },
          errorRate,
          rssMb: intervals.map((r) => ({ t: r.t, rss: r.rss })),
          ledger: { ...l, clientAccepted: t.accepted, clientCharged: t.charged, ok: ledgerOk },
          signals: { stored: stored.length, expected, lost, doubled },
          journal,
        }),
    );
    if (!ledgerOk || lost > 0 || doubled > 0) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
