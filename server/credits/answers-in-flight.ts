import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import type { Ledger } from './ledger';

/** What an instance knows an answer in progress has delivered, as of now. */
export interface AnswerProgress {
  userId: string;
  requestId: string;
  /** Unset until the first token: nothing delivered, nothing to charge. */
  provider?: string;
  model?: string;
  inputTokens: number;
  outputTokens: number;
  voiceCharacters: number;
  /** Credits for what was delivered, by the price table. */
  charge: number;
}

export interface AnswersInFlightOptions {
  chatDb: Db;
  ledger: Ledger;
  log: Logger;
  /** The answers this instance is running (their progress is written at every beat). */
  progress: () => AnswerProgress[];
  heartbeatMs?: number;
  /** An answer whose heartbeat is older than this is presumed dead with its instance. */
  staleMs?: number;
  sweepMs?: number;
}

// Advisory lock naming the one sweeping instance (the relay uses 72_616_174, migrations 72_616_173).
const SWEEP_LOCK_KEY = 72_616_175;

/**
 * Keeps every reservation settled even when the instance running its answer
 * dies (SIGKILL, OOM, a lost machine). Each instance beats the heartbeat of
 * its answers in one statement, recording what each has delivered; a sweeper
 * — whichever instance holds the advisory lock at that moment, so one at a
 * time among all instances — settles the reservations whose heartbeat
 * stopped, charging what was recorded as delivered (capped by the
 * reservation, like every settlement) and releasing the rest.
 */
export function createAnswersInFlight(options: AnswersInFlightOptions) {
  const { chatDb, ledger, log } = options;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const staleMs = options.staleMs ?? 30_000;
  const sweepMs = options.sweepMs ?? 10_000;
  if (staleMs <= heartbeatMs * 2) throw new Error(`staleMs (${staleMs}) must exceed two heartbeats (${heartbeatMs} ms each)`);
  let timers: NodeJS.Timeout[] = [];
  let running: Promise<unknown> = Promise.resolve();
  // One operation at a time per instance: a slow database never piles up overlapping beats or sweeps.
  const serial = (work: () => Promise<unknown>) => {
    running = running.then(work).catch((err) => log.warn({ err: (err as Error).message }, 'answers in flight: operation failed; next tick retries'));
    return running;
  };

  async function heartbeat(): Promise<number> {
    const answers = options.progress();
    if (answers.length === 0) return 0;
    const column = <K extends keyof AnswerProgress>(k: K) => answers.map((a) => a[k] ?? null);
    const rows = await chatDb.asServiceRole((q) =>
      q.query(
        `update zmarty_private.answers_in_flight f
            set heartbeat_at = now(), provider = v.provider, model = v.model, input_tokens = v.input_tokens,
                output_tokens = v.output_tokens, voice_characters = v.voice_characters, charge = v.charge
           from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::integer[], $8::integer[])
                as v(user_id, request_id, provider, model, input_tokens, output_tokens, voice_characters, charge)
          where f.user_id = v.user_id and f.request_id = v.request_id`,
        [
          column('userId'),
          column('requestId'),
          column('provider'),
          column('model'),
          column('inputTokens'),
          column('outputTokens'),
          column('voiceCharacters'),
          column('charge'),
        ],
      ),
    );
    return rows.rowCount ?? 0;
  }

  /**
   * Settles every stale reservation if this instance is the sweeper now;
   * returns how many it settled. One transaction on one connection: the
   * leader's lock is transaction-scoped, so it cannot outlive a sweep, and a
   * small pool is never asked for a second connection while one is held.
   */
  async function sweep(): Promise<number> {
    const settled = await chatDb.asServiceRole(async (q) => {
      const { rows: lock } = await q.query<{ leader: boolean }>('select pg_try_advisory_xact_lock($1) as leader', [SWEEP_LOCK_KEY]);
      if (!lock[0]!.leader) return [];
      // Ordered by user: profile locks are taken in one order, so two sweeps can never wait on each other.
      const { rows: stale } = await q.query<{
        user_id: string;
        request_id: string;
        instance_id: string;
        provider: string | null;
        model: string | null;
        input_tokens: number;
        output_tokens: number;
        voice_characters: number;
        charge: number;
      }>(
        `select user_id, request_id, instance_id, provider, model, input_tokens, output_tokens, voice_characters, charge
           from zmarty_private.answers_in_flight
          where heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)
          order by user_id, request_id limit 200`,
        [staleMs],
      );
      const done: Array<{ row: (typeof stale)[number]; charged: number }> = [];
      for (const row of stale) {
        const delivered = row.provider !== null && row.charge > 0;
        const settlement = await ledger.settleOn(q, {
          userId: row.user_id,
          requestId: row.request_id,
          cost: delivered ? row.charge : 0,
          provider: row.provider ?? 'none',
          model: row.model ?? 'none',
          inputTokens: delivered ? row.input_tokens : 0,
          outputTokens: delivered ? row.output_tokens : 0,
          voiceCharacters: delivered ? row.voice_characters : 0,
          estimated: delivered,
        });
        done.push({ row, charged: settlement.charged });
      }
      return done;
    });
    for (const { row, charged } of settled) {
      log.warn(
        { requestId: row.request_id, userId: row.user_id, instanceId: row.instance_id, charged },
        'answers in flight: settled the reservation of an answer whose instance stopped beating',
      );
    }
    return settled.length;
  }

  return {
    heartbeat: () => serial(heartbeat) as Promise<number | undefined>,
    sweep: () => serial(sweep) as Promise<number | undefined>,
    start() {
      void serial(sweep);
      timers = [
        setInterval(() => void serial(heartbeat), heartbeatMs),
        setInterval(() => void serial(sweep), sweepMs),
      ];
      for (const t of timers) t.unref();
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      timers = [];
      await running;
    },
  };
}

export type AnswersInFlight = ReturnType<typeof createAnswersInFlight>;
