import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { SignalRow } from '../../../common/events';
import type { Connection } from '../lib/socket.client';
import { isDirectionChange, keepWatched, maxSignalId, mergeSignals } from './signals.logic';

const TOAST_LIMIT = 3;
const TOAST_MS = 9_000;

function readLastSeen(key: string): number | undefined {
  const value = Number(localStorage.getItem(key));
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * Live signals for the watched pairs: subscribes after every (re)connect and
 * whenever the list changes, passing the last id seen (kept across reloads)
 * so the server replays what was missed. Feed newest first; a toast when a
 * pair's direction changes. A removed pair leaves the rooms, the feed and the toasts.
 */
export function useSignals(
  connection: Connection | null,
  watched: ReadonlyArray<{ symbol: string; timeframe: string }> | null,
  userId: string,
  seed: SignalRow[],
) {
  const symbols = useMemo(() => (watched ? watched.map((w) => w.symbol) : null), [watched]);
  const lastSeenKey = `zmarty.lastSignalId.${userId}`;
  const [feed, setFeed] = useState<SignalRow[]>([]);
  const [toasts, setToasts] = useState<SignalRow[]>([]);
  const [refused, setRefused] = useState<string[]>([]);
  const lastSeen = useRef<number | undefined>(readLastSeen(lastSeenKey));
  const joined = useRef(new Set<string>());
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());
  const feedRef = useRef(feed);
  feedRef.current = feed;
  const watchedRef = useRef(watched);
  watchedRef.current = watched;
  const symbolsRef = useRef(symbols);
  symbolsRef.current = symbols;

  const dismiss = useCallback((id: number) => {
    setToasts((list) => list.filter((s) => s.id !== id));
    const timer = timers.current.get(id);
    if (timer) clearTimeout(timer);
    timers.current.delete(id);
  }, []);

  // Latest known signals (from the overview) fill the feed without alerting.
  useEffect(() => {
    // The overview may still list a pair removed a moment ago.
    const fresh = keepWatched(seed, watchedRef.current);
    if (fresh.length) setFeed((f) => mergeSignals(f, fresh));
  }, [seed]);

  const subscribe = useCallback(() => {
    if (!connection?.socket.connected) return;
    const wanted = [...new Set(symbolsRef.current ?? [])];
    const gone = [...joined.current].filter((s) => !wanted.includes(s));
    if (gone.length) {
      connection.socket.emit('signals:unsubscribe', { symbols: gone });
      for (const s of gone) joined.current.delete(s);
    }
    if (!wanted.length) return;
    connection.socket
      .timeout(10_000)
      .emitWithAck('signals:subscribe', { symbols: wanted, ...(lastSeen.current ? { sinceId: lastSeen.current } : {}) })
      .then((ack) => {
        if (!ack.ok) return;
        joined.current = new Set(ack.data.joined);
        setRefused(ack.data.refused);
      })
      .catch(() => undefined); // the next reconnect subscribes again
  }, [connection]);

  useEffect(() => {
    if (!connection) return;
    joined.current.clear();
    const off = connection.onConnected(subscribe);
    subscribe();
    return off;
  }, [connection, subscribe]);

  const key = symbols ? [...new Set(symbols)].sort().join(',') : null;
  useEffect(() => {
    if (key !== null) subscribe();
  }, [key, subscribe]);

  const watchedKey = watched ? watched.map((w) => `${w.symbol}|${w.timeframe}`).sort().join(',') : null;
  useEffect(() => {
    const pairs = watchedRef.current;
    setFeed((f) => keepWatched(f, pairs));
    setToasts((t) => keepWatched(t, pairs));
  }, [watchedKey]);

  useEffect(() => {
    if (!connection) return;
    const onSignal = (signal: SignalRow) => {
      const alert = isDirectionChange(feedRef.current, signal);
      // Kept current at once: two pushes in one tick compare against each other.
      feedRef.current = mergeSignals(feedRef.current, [signal]);
      setFeed((f) => mergeSignals(f, [signal]));
      const max = maxSignalId([signal], lastSeen.current ? [{ id: lastSeen.current }] : []);
      if (max !== undefined && max !== lastSeen.current) {
        lastSeen.current = max;
        localStorage.setItem(lastSeenKey, String(max));
      }
      // Replays and refreshes in the same direction (a FLAT every candle) do not alert.
      if (!alert || timers.current.has(signal.id)) return;
      setToasts((list) => [signal, ...list.filter((s) => s.id !== signal.id)].slice(0, TOAST_LIMIT));
      timers.current.set(
        signal.id,
        setTimeout(() => dismiss(signal.id), TOAST_MS),
      );
    };
    connection.socket.on('signal:new', onSignal);
    return () => {
      connection.socket.off('signal:new', onSignal);
    };
  }, [connection, lastSeenKey, dismiss]);

  useEffect(() => {
    const pending = timers.current;
    return () => {
      for (const timer of pending.values()) clearTimeout(timer);
    };
  }, []);

  return { feed, toasts, dismiss, refused };
}
