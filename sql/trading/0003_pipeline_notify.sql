-- Pipeline orchestration and realtime push: notifications the worker and the
-- web servers LISTEN to, and indexes for the pipeline's hot queries.

-- A watcher that becomes active (first subscriber) is ingested at once: the
-- worker LISTENs on this channel and enqueues an ingest job, instead of waiting
-- for the next INGEST_CRON tick. Missed notifications (no worker running) are
-- covered by that schedule and by the catch-up a worker runs when it starts.
create function public.notify_watcher_active() returns trigger language plpgsql as $$
begin
  perform pg_notify('zmarty_watcher_active', json_build_object('symbol', new.symbol, 'timeframe', new.timeframe)::text);
  return null;
end
$$;

create trigger watchers_notify_active_insert
  after insert on public.watchers
  for each row when (new.active)
  execute function public.notify_watcher_active();

create trigger watchers_notify_active_update
  after update of subscribers on public.watchers
  for each row when (new.active and not old.active)
  execute function public.notify_watcher_active();

-- Every web server instance LISTENs here and pushes the new row to its own
-- sockets (the Postgres adapter/emitter pair was measured not to deliver).
-- The row rides along when it fits NOTIFY's 8000-byte payload, so no
-- instance has to read it back; otherwise only id and symbol are sent and
-- the listener loads the row (the symbol lets an instance with nobody in that
-- room skip it). NOTIFY is delivered only after commit, so a listener never
-- sees a signal that could still roll back.
create function public.notify_signal_new() returns trigger language plpgsql as $$
declare
  payload text := json_build_object('id', new.id, 'symbol', new.symbol, 'row', row_to_json(new))::text;
begin
  if octet_length(payload) > 7900 then
    payload := json_build_object('id', new.id, 'symbol', new.symbol)::text;
  end if;
  perform pg_notify('zmarty_signal_new', payload);
  return null;
end
$$;

create trigger signals_notify_new
  after insert on public.signals
  for each row execute function public.notify_signal_new();

-- "The open recommendation" (latest long/short signal per symbol+timeframe)
-- and the win-rate evaluator both read only directional signals.
create index signals_directional_idx on public.signals (symbol, timeframe, candle_time desc)
  where direction <> 'flat';

-- Replay after a reconnect: signals of a few symbols after a known id.
create index signals_symbol_id_idx on public.signals (symbol, id);
