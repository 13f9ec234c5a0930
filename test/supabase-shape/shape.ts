import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { createTestDatabase } from '../databases';

export interface SupabaseShapedDatabases {
  /** As the migrating role (Supabase's `postgres`). */
  chatUrl: string;
  tradingUrl: string;
  /** Chat database as GoTrue's role. */
  authAdminUrl: string;
  /** Chat database as the Data API's login role, a member of anon/authenticated/service_role. */
  apiUrl: string;
  drop(): Promise<void>;
}

async function asAdmin<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

/**
 * A chat and a trading database on the test server, shaped like a Supabase
 * project's (test/supabase-shape/shape.sql) and owned by a fresh non-superuser
 * migrating role. Nothing is migrated yet.
 */
export async function createSupabaseShapedDatabases(): Promise<SupabaseShapedDatabases> {
  const admin = inject('adminDatabaseUrl');
  const suffix = randomBytes(4).toString('hex');
  const password = randomBytes(12).toString('hex');
  const roles = { owner: `supa_owner_${suffix}`, authAdmin: `supa_auth_${suffix}`, api: `supa_api_${suffix}` };
  await asAdmin(admin, async (c) => {
    // The API roles are cluster-wide and other test files' migrations create them too.
    for (const [name, attributes] of [
      ['anon', 'nologin noinherit'],
      ['authenticated', 'nologin noinherit'],
      ['service_role', 'nologin noinherit bypassrls'],
    ]) {
      await c.query(`do $$ begin create role ${name} ${attributes}; exception when duplicate_object or unique_violation then null; end $$`);
    }
    // Supabase's postgres: no superuser, but createrole and bypassrls, and a member of the API roles.
    await c.query(`create role ${roles.owner} login nosuperuser createrole bypassrls password '${password}'`);
    await c.query(`create role ${roles.authAdmin} login nosuperuser noinherit createrole password '${password}'`);
    await c.query(`create role ${roles.api} login nosuperuser noinherit password '${password}'`);
    await c.query(`grant anon, authenticated, service_role to ${roles.owner}, ${roles.api}`);
  });
  const shape = (await readFile(path.join(import.meta.dirname, 'shape.sql'), 'utf8'))
    .replaceAll('ZMARTY_OWNER', roles.owner)
    .replaceAll('ZMARTY_AUTH_ADMIN', roles.authAdmin);
  const chat = await createTestDatabase('supa_chat');
  const trading = await createTestDatabase('supa_trading');
  for (const db of [chat, trading]) {
    await asAdmin(db.url, async (c) => {
      const name = new URL(db.url).pathname.slice(1);
      await c.query(`alter database ${c.escapeIdentifier(name)} owner to ${roles.owner}`);
      await c.query(shape);
    });
  }
  return {
    chatUrl: withUser(chat.url, roles.owner, password),
    tradingUrl: withUser(trading.url, roles.owner, password),
    authAdminUrl: withUser(chat.url, roles.authAdmin, password),
    apiUrl: withUser(chat.url, roles.api, password),
    async drop() {
      await Promise.all([chat.drop(), trading.drop()]);
      await asAdmin(admin, async (c) => {
        for (const role of Object.values(roles)) {
          await c.query(`drop owned by ${role} cascade`).catch(() => undefined);
          await c.query(`drop role if exists ${role}`);
        }
      });
    },
  };
}
