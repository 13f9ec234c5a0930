-- At most 50 watched pairs per user. Each pair becomes a watcher that every
-- worker fetches from the market on each candle, against the exchange's rate
-- limit that all users share: one account watching every pair in every
-- timeframe would spend it for everyone. 50 is also the most one
-- signals:subscribe takes. Enforced here, not only by POST /api/symbols: on
-- Supabase a signed-in user can insert through the Data API directly.
create function zmarty_private.cap_watchlist() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  -- A pair already watched is left to the unique key (ON CONFLICT), whatever the count.
  if exists (select 1 from public.user_symbols s
              where s.user_id = new.user_id and s.symbol = new.symbol and s.timeframe = new.timeframe) then
    return new;
  end if;
  -- Serialised per user on the profile row, as the ledger is: two adds at once cannot both take the last place.
  perform 1 from public.profiles p where p.user_id = new.user_id for update;
  if (select count(*) from public.user_symbols s where s.user_id = new.user_id) >= 50 then
    raise exception using
      errcode = 'check_violation',
      constraint = 'user_symbols_cap',
      message = 'watchlist is full: at most 50 pairs',
      hint = 'remove a pair to add another';
  end if;
  return new;
end
$$;
revoke all on function zmarty_private.cap_watchlist() from public, anon, authenticated, service_role;

create trigger user_symbols_cap before insert on public.user_symbols
  for each row execute function zmarty_private.cap_watchlist();
