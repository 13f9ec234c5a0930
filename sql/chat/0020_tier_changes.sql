-- A tier change is announced by the transaction that makes it. Each web
-- instance caches a user's tier (server/tiers), and used to trust it for
-- TIER_CACHE_MS, 5 s: a user asking again after longer than that waited for a
-- read of their tier before the provider was called, a database round trip on
-- nearly every answer of someone asking now and then. Now a change of a
-- user's tier (profiles.tier) notifies `zmarty_tier` with the user's id, and
-- any change of the tier table itself (a tier's limits) notifies `*`; each
-- instance LISTENs and drops what it cached (server/tiers/tier-changes.ts), so
-- a change applies at once on every instance, whoever makes it (the admin
-- command, an UPDATE by hand). Delivered at commit, never for a rolled-back
-- change. TIER_CACHE_MS now only bounds a change missed while an instance's
-- LISTEN connection was down (it clears its whole cache when it reconnects).
create function zmarty_private.notify_tier_change() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if tg_table_name = 'profiles' then
    perform pg_notify('zmarty_tier', n.user_id::text)
       from new_rows n join old_rows o on o.user_id = n.user_id
      where n.tier is distinct from o.tier;
  else
    perform pg_notify('zmarty_tier', '*');
  end if;
  return null;
end
$$;
revoke all on function zmarty_private.notify_tier_change() from public, anon, authenticated, service_role;

-- Statement-level with transition tables (which a column list would not allow): one pass over the changed rows.
create trigger profiles_tier_changed after update on public.profiles
  referencing old table as old_rows new table as new_rows
  for each statement execute function zmarty_private.notify_tier_change();

create trigger tier_grants_changed after insert or update or delete on public.tier_grants
  for each statement execute function zmarty_private.notify_tier_change();
