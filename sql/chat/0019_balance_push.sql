-- The new balance is pushed by the transaction that changes it. Before, the
-- server sent `credits:balance` after each settlement (and extension) through
-- the Socket.IO Postgres adapter: a NOTIFY statement of its own, one more
-- round trip and pooled connection per answer, after the settlement's. Now the
-- ledger's balance trigger (0016) notifies `zmarty_balance` in the inserting
-- transaction, for every user whose rows it inserted, unless all of them were
-- reservations (an answer's hold is shown by its chat:done, as before):
-- settlements, extensions, grants, purchases, refunds and the sweeper's
-- settlements alike, whoever inserts them. Delivered at commit, in commit
-- order, never for a rolled-back change; each web instance LISTENs and
-- emits to the user's sockets it holds (server/credits/balance-push.ts).
create or replace function zmarty_private.track_balance() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  insert into zmarty_private.credit_balances as b (user_id, balance)
  select n.user_id, sum(n.delta) from new_rows n where n.user_id is not null group by n.user_id
  on conflict (user_id) do update set balance = b.balance + excluded.balance;
  -- Reads this transaction's own update of the row: the balance as of this statement.
  perform pg_notify('zmarty_balance', json_build_object('user', b.user_id, 'balance', b.balance)::text)
     from zmarty_private.credit_balances b
    where b.user_id in (select n.user_id from new_rows n where n.user_id is not null and n.reason <> 'reserve');
  return null;
end
$$;
revoke all on function zmarty_private.track_balance() from public, anon, authenticated, service_role;
