import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createInstancePresence, instanceAliveSql } from './instance-presence';

/** An instance is alive while its presence lock is held: on its own session, gone with it. */
describe('instance presence', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  const alive = async (instanceId: string) => (await db.query<{ alive: boolean }>(`select ${instanceAliveSql('$1::text')} as alive`, [instanceId]))[0]!.alive;

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 2 });
  });
  afterAll(async () => {
    await db.close();
    await databases.drop();
  });

  it('is seen alive by any session while it runs, dead once it stops, and takes its lock again after losing its connection', async () => {
    const log = createLogger({ level: 'silent' });
    const presence = createInstancePresence({ connection: { connectionString: databases.chatUrl }, instanceId: 'web-1', log, retryMs: 50 });
    expect(await alive('web-1')).toBe(false);
    await presence.start();
    expect(await alive('web-1')).toBe(true);
    expect(await alive('web-2')).toBe(false);

    // Its session killed (as when the database restarts): the lock is gone, then taken again.
    await db.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'zmarty-presence' and datname = current_database()`);
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      await new Promise((r) => setTimeout(r, 50));
      back = await alive('web-1');
    }
    expect(back).toBe(true);

    await presence.stop();
    expect(await alive('web-1')).toBe(false);
  });
});
