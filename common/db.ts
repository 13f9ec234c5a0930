import pg from 'pg';

/** Anything that can run a parameterised statement: the pool or a transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The claims a user's queries run with; RLS reads them through auth.uid()/auth.jwt(). */
export interface UserClaims {
  sub: string;
  role: string;
  [claim: string]: unknown;
}

/**
 * The narrow database seam every feature goes through. `asUser` runs a unit of
 * work the way PostgREST does — inside a transaction, as role `authenticated`
 * with the JWT claims set locally — so Row Level Security, not only our code,
 * decides what a user may touch.
 */
export interface Db {
  readonly pool: pg.Pool;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  tx<T>(work: (client: Queryable) => Promise<T>): Promise<T>;
  asUser<T>(claims: UserClaims, work: (client: Queryable) => Promise<T>): Promise<T>;
  asServiceRole<T>(work: (client: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

// Postgres returns bigint (int8) as text by default; our counts and credit
// balances fit comfortably in a JS number, and an exact integer is what we want.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`bigint ${value} exceeds the safe integer range`);
  return n;
});
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export function createDb({ connectionString, max = 10, applicationName = 'zmarty' }: DbOptions): Db {
  // A fixed-size pool once warm (`min` = `max`, as HikariCP advises): pg-pool's default closed a connection idle
  // for 10 s, so the first answer after a quiet spell opened one (TCP, TLS and SCRAM to a hosted database) inside
  // its reservation, ahead of its first token. Connections open on first use and then stay; one the server drops
  // errors while idle and is replaced on demand (the 'error' listener below).
  const pool = new pg.Pool({ connectionString, max, min: max, application_name: applicationName });
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);

  /**
   * One transaction. `preamble` (statements that set who we are) is sent in the
   * same round trip as `begin`: the simple query protocol takes several
   * statements at once, and every round trip saved is on a chat answer's time
   * to first token. Values in it are escaped with escapeLiteral.
   */
  async function tx<T>(work: (client: Queryable) => Promise<T>, preamble?: (client: pg.PoolClient) => string): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query(preamble ? `begin; ${preamble(client)}` : 'begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  return {
    pool,
    async query(text, values) {
      const result = await pool.query(text, values);
      return result.rows;
    },
    tx: (work) => tx(work),
    asUser: (claims, work) =>
      tx(
        work,
        (client) =>
          `set local role authenticated; select set_config('request.jwt.claims', ${client.escapeLiteral(JSON.stringify(claims))}, true), ` +
          `set_config('request.jwt.claim.sub', ${client.escapeLiteral(String(claims.sub))}, true)`,
      ),
    asServiceRole: (work) =>
      tx(work, (client) => `set local role service_role; select set_config('request.jwt.claims', ${client.escapeLiteral('{"role":"service_role"}')}, true)`),
    close: () => pool.end(),
  };
}
