import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../../common/db';

/** The SQL of the embedded GoTrue-compatible auth, kept in one place. */

export interface AuthUserRow {
  id: string;
  email: string;
  encrypted_password: string | null;
  raw_app_meta_data: Record<string, unknown>;
  raw_user_meta_data: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  last_sign_in_at: Date | null;
  email_confirmed_at: Date | null;
}

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newRefreshToken = () => randomBytes(32).toString('base64url');

export function createAuthStore(db: Db) {
  return {
    async findUserByEmail(email: string): Promise<AuthUserRow | undefined> {
      const rows = await db.query<AuthUserRow>('select * from auth.users where email = $1', [email]);
      return rows[0];
    },

    async findUserById(id: string): Promise<AuthUserRow | undefined> {
      const rows = await db.query<AuthUserRow>('select * from auth.users where id = $1', [id]);
      return rows[0];
    },

    /** Inserts the user; the on_auth_user_created trigger adds profile and starting grant in the same transaction. */
    async createUser(input: { email: string; passwordHash: string; userMetadata: Record<string, unknown> }): Promise<AuthUserRow | undefined> {
      const rows = await db.query<AuthUserRow>(
        `insert into auth.users (email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, aud, role)
         values ($1, $2, now(), '{"provider":"email","providers":["email"]}', $3, 'authenticated', 'authenticated')
         on conflict (email) do nothing
         returning *`,
        [input.email, input.passwordHash, JSON.stringify(input.userMetadata)],
      );
      return rows[0];
    },

    async touchSignIn(userId: string): Promise<void> {
      await db.query('update auth.users set last_sign_in_at = now() where id = $1', [userId]);
    },

    async startSession(userId: string): Promise<{ sessionId: string; refreshToken: string }> {
      return db.tx(async (q) => {
        const { rows } = await q.query<{ id: string }>('insert into auth_local.sessions (user_id) values ($1) returning id', [userId]);
        const sessionId = rows[0]!.id;
        const refreshToken = await insertRefreshToken(q, { sessionId, userId, parentId: null });
        return { sessionId, refreshToken };
      });
    },

    /**
     * Rotates a refresh token: the presented one is revoked and a child issued,
     * atomically (row lock). Presenting an already-revoked token is treated as
     * theft — the whole session is revoked, as GoTrue's reuse detection does.
     */
    async rotateRefreshToken(token: string): Promise<{ userId: string; sessionId: string; refreshToken: string } | 'reused' | 'unknown'> {
      return db.tx(async (q) => {
        const { rows } = await q.query<{ id: number; session_id: string; user_id: string; revoked: boolean; session_revoked: boolean }>(
          `select t.id, t.session_id, t.user_id, t.revoked, s.revoked_at is not null as session_revoked
           from auth_local.refresh_tokens t join auth_local.sessions s on s.id = t.session_id
           where t.token_hash = $1 for update of t`,
          [hashRefreshToken(token)],
        );
        const row = rows[0];
        if (!row || row.session_revoked) return 'unknown';
        if (row.revoked) {
          await q.query('update auth_local.sessions set revoked_at = now() where id = $1', [row.session_id]);
          await q.query('update auth_local.refresh_tokens set revoked = true where session_id = $1', [row.session_id]);
          return 'reused';
        }
        await q.query('update auth_local.refresh_tokens set revoked = true where id = $1', [row.id]);
        const refreshToken = await insertRefreshToken(q, { sessionId: row.session_id, userId: row.user_id, parentId: row.id });
        return { userId: row.user_id, sessionId: row.session_id, refreshToken };
      });
    },

    async revokeSessions(input: { userId: string; sessionId?: string; scope: 'global' | 'local' | 'others' }): Promise<void> {
      const where =
        input.scope === 'global' ? 'user_id = $1' : input.scope === 'local' ? 'user_id = $1 and id = $2' : 'user_id = $1 and id <> $2';
      const values = input.scope === 'global' ? [input.userId] : [input.userId, input.sessionId ?? '00000000-0000-0000-0000-000000000000'];
      await db.tx(async (q) => {
        const { rows } = await q.query<{ id: string }>(`update auth_local.sessions set revoked_at = now() where ${where} and revoked_at is null returning id`, values);
        if (rows.length) {
          await q.query('update auth_local.refresh_tokens set revoked = true where session_id = any($1::uuid[])', [rows.map((r) => r.id)]);
        }
      });
    },

    async isSessionActive(sessionId: string): Promise<boolean> {
      const rows = await db.query('select 1 from auth_local.sessions where id = $1 and revoked_at is null', [sessionId]);
      return rows.length > 0;
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;

async function insertRefreshToken(q: Queryable, input: { sessionId: string; userId: string; parentId: number | null }): Promise<string> {
  const token = newRefreshToken();
  await q.query('insert into auth_local.refresh_tokens (token_hash, session_id, user_id, parent_id) values ($1, $2, $3, $4)', [
    hashRefreshToken(token),
    input.sessionId,
    input.userId,
    input.parentId,
  ]);
  return token;
}
