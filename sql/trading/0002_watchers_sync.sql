-- Watchers sync, trading side. The watchers-upsert function recounts a
-- watcher from watcher_subscriptions on every event (count(*) by symbol and
-- timeframe, under the watcher's row lock); without this index each event
-- would scan every subscription.
create index watcher_subscriptions_watcher_idx on public.watcher_subscriptions (symbol, timeframe);
