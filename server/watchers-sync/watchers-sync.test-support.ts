import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Db } from '../../common/db';

export const WEBHOOK_PATH = '/functions/v1/watchers-upsert';

export interface TestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Mounts a Web handler exactly as the server does (Hono + @hono/node-server) on 127.0.0.1. */
export function serveWebhook(handler: (request: Request) => Promise<Response>, port = 0): Promise<TestServer> {
  const app = new Hono();
  app.post(WEBHOOK_PATH, (c) => handler(c.req.raw));
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      resolve({
        url: `http://127.0.0.1:${info.port}${WEBHOOK_PATH}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            if ('closeAllConnections' in server) server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
    server.once('error', reject);
  });
}

/** A signed-up user: the auth.users row (as the database owner), whose trigger creates the profile. */
export async function createUser(chatDb: Db, email: string): Promise<string> {
  const rows = await chatDb.query<{ id: string }>(`insert into auth.users (email) values ($1) returning id`, [email]);
  return rows[0]!.id;
}

export const asUser = (userId: string) => ({ sub: userId, role: 'authenticated' });

/** Polls until `check` returns true; returns the elapsed ms, or throws with `describe()` after timeoutMs. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> | string = () => ''): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  if (await check()) return performance.now() - start;
  throw new Error(`condition not met within ${timeoutMs} ms ${await describe()}`);
}

export interface WatcherRow {
  symbol: string;
  timeframe: string;
  subscribers: number;
  active: boolean;
}

export const watcherRows = (tradingDb: Db) =>
  tradingDb.query<WatcherRow>(`select symbol, timeframe, subscribers, active from public.watchers order by symbol, timeframe`);

/** Everything the function may write, to assert that a rejected request changed nothing. */
export async function tradingSnapshot(tradingDb: Db) {
  return {
    watchers: await tradingDb.query(`select symbol, timeframe, subscribers, active, updated_at from public.watchers order by id`),
    subscriptions: await tradingDb.query(`select source_id, user_id, symbol, timeframe, updated_at from public.watcher_subscriptions order by source_id`),
    events: await tradingDb.query(`select event_id from public.webhook_events order by event_id`),
  };
}
