import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { issueText, safeText } from '../../common/text';
import { readJson } from '../http/read-json';
import type { AuthedEnv } from '../http/types';

interface ProfileRow {
  userId: string;
  displayName: string | null;
  tier: string;
  balance: number;
  /** What the tier allows (public.tier_grants). */
  limits: { chatPerMinute: number; maxConcurrent: number; maxOutputTokens: number; voiceAllowed: boolean };
}

const profileSql = `
  select p.user_id as "userId", p.display_name as "displayName", p.tier,
         coalesce((select balance from public.credit_balance b where b.user_id = p.user_id), 0) as balance,
         json_build_object('chatPerMinute', t.chat_per_minute, 'maxConcurrent', t.max_concurrent,
                           'maxOutputTokens', t.max_output_tokens, 'voiceAllowed', t.voice_allowed) as limits
  from public.profiles p join public.tier_grants t on t.tier = p.tier where p.user_id = auth.uid()`;

const updateSchema = z.object({ displayName: safeText().trim().min(1).max(80).nullable() });

/** The signed-in user's profile and credit balance, read under RLS. */
export function createProfileRoutes(deps: { chatDb: Db }) {
  const app = new Hono<AuthedEnv>();

  async function loadProfile(claims: AuthedEnv['Variables']['user']['claims']) {
    const row = await deps.chatDb.asUser(claims, async (q) => (await q.query<ProfileRow>(profileSql)).rows[0]);
    if (!row) throw new AppError('not_found', 'No profile for this user');
    return row;
  }

  app.get('/me', async (c) => c.json({ ...(await loadProfile(c.var.user.claims)), email: c.var.user.email ?? null }));

  app.patch('/me', async (c) => {
    const parsed = updateSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) throw new AppError('validation_failed', issueText(parsed.error.issues[0], 'invalid profile'));
    await deps.chatDb.asUser(c.var.user.claims, (q) =>
      q.query('update public.profiles set display_name = $1, updated_at = now() where user_id = auth.uid()', [parsed.data.displayName]),
    );
    return c.json({ ...(await loadProfile(c.var.user.claims)), email: c.var.user.email ?? null });
  });

  app.get('/credits', async (c) => {
    const result = await deps.chatDb.asUser(c.var.user.claims, async (q) => {
      const balance = (await q.query<{ balance: number }>('select balance from public.credit_balance where user_id = auth.uid()')).rows[0];
      const entries = await q.query(
        `select id, delta, reason, provider, model, input_tokens as "inputTokens", output_tokens as "outputTokens",
                voice_characters as "voiceCharacters", estimated, request_id as "requestId", created_at as "createdAt"
         from public.credits_ledger where user_id = auth.uid() order by id desc limit 50`,
      );
      return { balance: balance?.balance ?? 0, entries: entries.rows };
    });
    return c.json(result);
  });

  return app;
}
