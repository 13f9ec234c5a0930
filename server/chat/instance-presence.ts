import pg from 'pg';
import type { Logger } from '../../common/logger';

// Advisory lock class of instance presence (the relay uses 72_616_174, migrations 72_616_173, the sweeper 72_616_175).
export const PRESENCE_LOCK_CLASS = 72_616_176;

/**
 * SQL that is true while the instance named by the text expression `instanceIdSql`
 * is alive: it holds its presence lock on a session of its own, which PostgreSQL
 * releases the moment that process dies (its connection closes with it, even
 * on SIGKILL). `pg_locks` is readable by any role.
 */
export function instanceAliveSql(instanceIdSql: string): string {
  return `exists (select 1 from pg_catalog.pg_locks l
                   where l.locktype = 'advisory' and l.classid = ${PRESENCE_LOCK_CLASS}::oid
                     and l.objid = hashtext(${instanceIdSql})::oid and l.objsubid = 2 and l.granted)`;
}

/**
 * Holds this instance's presence lock on a dedicated connection (one per web
 * process, outside the pool), taking it again after the connection is lost.
 * Other instances read it to tell an answer whose instance died (the client
 * is told `answer_lost` at once) from one still streaming elsewhere.
 */
export function createInstancePresence(options: { connection: pg.ClientConfig; instanceId: string; log: Logger; retryMs?: number }) {
  const retryMs = options.retryMs ?? 1_000;
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  function again() {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void hold().catch(again);
    }, retryMs);
  }

  async function hold(): Promise<void> {
    const c = new pg.Client({ ...options.connection, application_name: 'zmarty-presence' });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (client !== c) return;
      client = undefined;
      options.log.warn({ instanceId: options.instanceId }, 'instance presence: connection lost; taking the lock again');
      again();
    });
    try {
      await c.connect();
      await c.query('select pg_advisory_lock($1, hashtext($2))', [PRESENCE_LOCK_CLASS, options.instanceId]);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    client = c;
    if (stopped) await c.end().catch(() => undefined);
  }

  return {
    start: () => hold(),
    async stop() {
      stopped = true;
      clearTimeout(retry);
      retry = undefined;
      const held = client;
      client = undefined;
      await held?.end().catch(() => undefined);
    },
  };
}
