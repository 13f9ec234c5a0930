/**
 * What the Data API's roles may do to each object in an exposed schema: table
 * privileges as `SELECT`, column privileges as `UPDATE(column)`. An object of
 * an exposed schema that is not listed may grant them nothing at all, so a new
 * table in `public` fails the checks until it is revoked or reviewed here.
 * Mirrors the grants of sql/chat/0010_supabase_privileges.sql.
 */
export type ApiRole = 'anon' | 'authenticated';

export const API_ROLES: readonly ApiRole[] = ['anon', 'authenticated'];

export const CHAT_API_GRANTS: Record<string, Partial<Record<ApiRole, readonly string[]>>> = {
  'public.tier_grants': { authenticated: ['SELECT'] }, // sql/chat/0011: tiers are read by signed-in users only
  'public.profiles': { authenticated: ['SELECT', 'UPDATE(display_name)', 'UPDATE(updated_at)'] },
  'public.user_symbols': { authenticated: ['SELECT', 'INSERT', 'DELETE', 'UPDATE(timeframe)'] },
  'public.credits_ledger': { authenticated: ['SELECT'] },
  'public.credit_balance': { authenticated: ['SELECT'] },
  'public.conversations': { authenticated: ['SELECT', 'DELETE', 'UPDATE(title)', 'UPDATE(updated_at)'] },
  'public.messages': { authenticated: ['SELECT'] },
};

/** The trading database is the server's and the worker's only. */
export const TRADING_API_GRANTS: Record<string, Partial<Record<ApiRole, readonly string[]>>> = {};

/** Schemas of ours that must stay unreachable for the API roles. */
export const INTERNAL_SCHEMAS = ['zmarty_private', 'auth_local'];
