import { createClient, isAuthRetryableFetchError, type SupabaseClient } from '@supabase/supabase-js';
import type { PublicConfig } from '../lib/api.client';

/**
 * The Supabase client. With the embedded auth (`supabaseUrl` empty) our own
 * server speaks GoTrue at `/auth/v1` on this origin. Only the public anon key
 * reaches the browser.
 */
export function createSupabase(config: PublicConfig, origin: string = window.location.origin): SupabaseClient {
  const url = config.supabaseUrl || origin;
  return createClient(url, config.supabaseAnonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
  });
}

export type RefreshResult = { token: string } | { error: 'retryable' | 'rejected' };

/** Forces a token refresh; tells a network failure (retry later) from a rejected refresh token (sign in again). */
export async function refreshAccessToken(supabase: SupabaseClient): Promise<RefreshResult> {
  try {
    const { data, error } = await supabase.auth.refreshSession();
    if (data.session) return { token: data.session.access_token };
    return { error: error && isAuthRetryableFetchError(error) ? 'retryable' : 'rejected' };
  } catch {
    return { error: 'retryable' };
  }
}

export async function currentAccessToken(supabase: SupabaseClient): Promise<string | null> {
  const { data } = await supabase.auth.getSession();
  return data.session?.access_token ?? null;
}
