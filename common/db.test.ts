import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../test/databases';
import { createDb } from './db';

describe('createDb', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase('db_pool');
  });
  afterAll(async () => {
    await database.drop();
  });

  it('keeps its connections open however long they idle, so a request after a quiet spell does not open one', { timeout: 20_000 }, async () => {
    const db = createDb({ connectionString: database.url, max: 3 });
    try {
      const backends = async () => new Set((await Promise.all([0, 1, 2].map(() => db.query<{ pid: number }>('select pg_backend_pid() as pid, pg_sleep(0.05)')))).map((r) => r[0]!.pid));
      const before = await backends();
      expect(before.size).toBe(3);
      // Past pg-pool's idle timeout (10 s), after which it used to close them.
      await new Promise((r) => setTimeout(r, 10_500));
      expect(db.pool.totalCount).toBe(3);
      expect(await backends()).toEqual(before);
    } finally {
      await db.close();
    }
  });
});
