import { parseArgs } from 'node:util';
import { createDb } from '../../common/db';
import { ConfigError, parseEnv, readEnvSource } from '../../common/env';
import { AdminError, createAdminCommands, MAX_NOTE_CHARS, parseCredits, type Account } from './admin.commands';
import { openChatDatabase } from './admin.database';

/**
 * `npm run admin -- <command>`: the operator's tool for credits and tiers, on
 * the chat database the server uses (CHAT_DATABASE_URL, or the embedded one
 * under DATA_DIR; `.env` is read as the server reads it).
 *
 * Exit codes: 0 done (or nothing to do), 1 refused (unknown email or tier, id
 * reused, balance too low, database unreachable), 2 bad usage.
 */
const USAGE = `usage: npm run admin -- <command> [--json]
  grant EMAIL CREDITS [--note TEXT] [--id KEY]   add credits (negative: take back); --id makes a retry safe
  tier EMAIL TIER [--note TEXT]                   move the user to a tier (free, pro, …)
  balance EMAIL                                   tier, balance, credits held, last ledger rows
  tiers                                           every tier, its limits and users
--note: why (≤ ${MAX_NOTE_CHARS} characters), kept on the ledger row.`;

class UsageError extends Error {}

function parse(argv: string[]) {
  // A negative amount ("-500") would read as an option: CREDITS is the last positional, so set it aside and append it.
  const negatives = argv.filter((a) => /^-\d+$/.test(a));
  const { values, positionals } = parseArgs({
    args: argv.filter((a) => !/^-\d+$/.test(a)),
    allowPositionals: true,
    options: { json: { type: 'boolean' }, note: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  return { values, positionals: [...positionals, ...negatives] };
}

function expectArgs(positionals: string[], names: string[]): string[] {
  const given = positionals.slice(1);
  if (given.length !== names.length) throw new UsageError(`${positionals[0]} needs ${names.join(' ')}`);
  return given;
}

function showAccount(a: Account): string {
  const t = a.tier;
  const lines = [
    `${a.email} (${a.userId})`,
    `tier     ${t.tier}: ${t.chatPerMinute} answers/min, ${t.maxConcurrent} at a time, ${t.maxOutputTokens} output tokens, voice ${t.voiceAllowed ? 'allowed' : 'not allowed'}`,
    `balance  ${a.balance} credits${a.held ? ` (${a.held} more held by ${a.answersInProgress} answer${a.answersInProgress === 1 ? '' : 's'} in progress)` : ''}`,
    'recent ledger rows:',
    ...a.recent.map((r) => `  ${new Date(r.createdAt).toISOString()}  ${String(r.delta).padStart(8)}  ${r.reason.padEnd(10)} ${r.note ?? r.requestId}`),
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`admin: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  const print = (json: unknown, text: string) => console.log(values.json ? JSON.stringify(json) : text);

  // Arguments are checked before any connection is opened.
  let run: (commands: ReturnType<typeof createAdminCommands>) => Promise<void>;
  try {
    const command = positionals[0];
    if (command === 'grant') {
      const [email, amount] = expectArgs(positionals, ['EMAIL', 'CREDITS']);
      const credits = parseCredits(amount!);
      run = async (c) => {
        const r = await c.grant({ email: email!, credits, note: values.note, id: values.id });
        const verb = credits > 0 ? `granted ${credits} credits to` : `took back ${-credits} credits from`;
        print(r, r.applied ? `${verb} ${r.email}; balance ${r.balance}` : `already done (--id ${values.id}); balance of ${r.email} is ${r.balance}`);
      };
    } else if (command === 'tier') {
      const [email, tier] = expectArgs(positionals, ['EMAIL', 'TIER']);
      run = async (c) => {
        const r = await c.setTier({ email: email!, tier: tier!, note: values.note });
        print(r, r.changed ? `${r.email}: tier ${r.from} → ${r.to}` : `${r.email} is already on tier ${r.to}`);
      };
    } else if (command === 'balance') {
      const [email] = expectArgs(positionals, ['EMAIL']);
      run = async (c) => {
        const a = await c.account(email!);
        print(a, showAccount(a));
      };
    } else if (command === 'tiers') {
      expectArgs(positionals, []);
      run = async (c) => {
        const tiers = await c.tiers();
        const rows = tiers.map(
          (t) =>
            `${t.tier.padEnd(10)} ${String(t.startingCredits).padStart(9)} ${String(t.chatPerMinute).padStart(10)} ${String(t.maxConcurrent).padStart(10)} ${String(t.maxOutputTokens).padStart(13)}  ${(t.voiceAllowed ? 'yes' : 'no').padEnd(5)} ${t.users}`,
        );
        print(tiers, [`${'tier'.padEnd(10)} ${'starting'.padStart(9)} ${'per minute'.padStart(10)} ${'at a time'.padStart(10)} ${'output tokens'.padStart(13)}  voice users`, ...rows].join('\n'));
      };
    } else {
      throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof AdminError)) throw err;
    console.error(`admin: ${err.message}\n${USAGE}`);
    return 2;
  }

  const env = parseEnv(readEnvSource());
  const database = await openChatDatabase(env, () => undefined);
  const chatDb = createDb({ connectionString: database.url, max: 1, applicationName: 'zmarty-admin' });
  try {
    await run(createAdminCommands({ chatDb }));
    return 0;
  } finally {
    await chatDb.close();
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    if (err instanceof AdminError || err instanceof ConfigError) console.error(`admin: ${err.message}`);
    else if (['42P01', '42703'].includes((err as { code?: string }).code ?? '')) {
      console.error(`admin: the chat database is not migrated to this version (${(err as Error).message}); start the server once to apply the migrations`);
    }
    // Postgres' own text (connection refused, …): the operator needs it, and it holds no secret.
    else console.error(`admin: failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
