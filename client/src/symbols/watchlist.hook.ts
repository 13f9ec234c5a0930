import { useCallback, useEffect, useRef, useState } from 'react';
import type { SignalRow } from '../../../common/events';
import { ApiError, type Api, type WatchedSymbol } from '../lib/api.client';
import type { Connection } from '../lib/socket.client';
import { applySignalToOverview, type OverviewItem } from '../signals/signals.logic';
import { checkNewSymbol } from './symbol.validation';

const OVERVIEW_REFRESH_MS = 3_000;

/** The user's watched pairs, their overview (latest signal, risk, win rate), add and remove. */
export function useWatchlist(api: Api, connection: Connection | null) {
  const [symbols, setSymbols] = useState<WatchedSymbol[] | null>(null);
  const [overview, setOverview] = useState<OverviewItem[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const loadOverview = useCallback(async () => {
    try {
      setOverview(await api.overview());
    } catch {
      /* the rows still show without it */
    }
  }, [api]);

  useEffect(() => {
    let live = true;
    api
      .symbols()
      .then((rows) => live && setSymbols(rows))
      .catch((err: unknown) => live && setLoadError(err instanceof Error ? err.message : 'Could not load your pairs'));
    void loadOverview();
    return () => {
      live = false;
    };
  }, [api, loadOverview]);

  // A new signal shows at once; risk and win rate follow from a refetch shortly after.
  useEffect(() => {
    if (!connection) return;
    const onSignal = (signal: SignalRow) => {
      setOverview((items) => (items ? applySignalToOverview(items, signal) : items));
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
      refreshTimer.current = setTimeout(() => void loadOverview(), OVERVIEW_REFRESH_MS);
    };
    connection.socket.on('signal:new', onSignal);
    return () => {
      connection.socket.off('signal:new', onSignal);
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
    };
  }, [connection, loadOverview]);

  /** Returns an error message for the form, or null on success. */
  const add = useCallback(
    async (input: string, timeframe: string): Promise<string | null> => {
      const check = checkNewSymbol(input, timeframe, symbols ?? []);
      if (!check.ok) return check.message;
      try {
        const row = await api.addSymbol(check.symbol, check.timeframe!);
        setSymbols((rows) => [...(rows ?? []), row]);
        void loadOverview();
        return null;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'conflict') return `${check.symbol} ${timeframe} is already on your list`;
        if (err instanceof ApiError && err.code === 'invalid_symbol') return `The server rejected ${check.symbol}: ${err.message}`;
        return err instanceof Error ? err.message : 'Could not add the pair';
      }
    },
    [api, symbols, loadOverview],
  );

  const remove = useCallback(
    async (id: number): Promise<string | null> => {
      try {
        await api.removeSymbol(id);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) return err instanceof Error ? err.message : 'Could not remove the pair';
      }
      setSymbols((rows) => rows?.filter((r) => r.id !== id) ?? rows);
      return null;
    },
    [api],
  );

  return { symbols, overview, loadError, add, remove };
}

export function overviewFor(overview: OverviewItem[] | null, row: { symbol: string; timeframe: string }): OverviewItem | undefined {
  return overview?.find((o) => o.symbol === row.symbol && o.timeframe === row.timeframe);
}
