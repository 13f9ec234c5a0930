import type { Session, SupabaseClient } from '@supabase/supabase-js';
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import type { SignalRow } from '../../common/events';
import { useSession } from './auth/session.hook';
import { SignInView } from './auth/sign-in.view';
import { currentAccessToken, refreshAccessToken } from './auth/supabase.client';
import { clearChatStorage } from './chat/chat-storage';
import { ChatView } from './chat/chat.view';
import { useBalance } from './credits/balance.hook';
import { BalanceView } from './credits/balance.view';
import { createApi, type Me, type Prices, type PublicConfig } from './lib/api.client';
import { MarketNotice } from './lib/market-notice.view';
import { useConnection } from './lib/connection.hook';
import { statusLabel } from './lib/connection.logic';
import { SignalFeedView, SignalToastsView } from './signals/signal-feed.view';
import { useSignals } from './signals/signals.hook';
import { overviewFor, useWatchlist } from './symbols/watchlist.hook';
import { WatchlistView } from './symbols/watchlist.view';

type Tab = 'chat' | 'watchlist' | 'signals';

// The chart library is loaded only when a signal is opened.
const SignalDetailView = lazy(() => import('./signals/signal-detail.view').then((m) => ({ default: m.SignalDetailView })));

export function App({ supabase, marketData }: { supabase: SupabaseClient; marketData?: PublicConfig['marketData'] }) {
  const { session, ready } = useSession(supabase);
  // Signed out here or in another tab: no chat data stays in this browser.
  useEffect(() => {
    if (ready && !session) clearChatStorage();
  }, [ready, session]);
  if (!ready) return <div className="splash" role="status">Loading…</div>;
  if (!session) return <SignInView supabase={supabase} />;
  // Keyed by user: a different account gets fresh state and a fresh socket.
  return <Workspace key={session.user.id} supabase={supabase} session={session} marketData={marketData} />;
}

function Workspace({ supabase, session, marketData }: { supabase: SupabaseClient; session: Session; marketData?: PublicConfig['marketData'] }) {
  const userId = session.user.id;
  const api = useMemo(
    () =>
      createApi({
        getToken: () => currentAccessToken(supabase),
        refreshToken: async () => {
          const r = await refreshAccessToken(supabase);
          return 'token' in r ? r.token : null;
        },
      }),
    [supabase],
  );
  const { connection, state: connState } = useConnection(supabase, session);
  const [me, setMe] = useState<Me | null>(null);
  const balance = useBalance(connection, me?.balance ?? null);
  const watchlist = useWatchlist(api, connection);
  const seed = useMemo(() => (watchlist.overview ?? []).flatMap((o) => (o.signal ? [o.signal] : [])), [watchlist.overview]);
  const signals = useSignals(connection, watchlist.symbols, userId, seed);
  const [detail, setDetail] = useState<SignalRow | null>(null);
  const [tab, setTab] = useState<Tab>('chat');
  const [prices, setPrices] = useState<Prices | null>(null);

  useEffect(() => {
    let live = true;
    api
      .me()
      .then((m) => live && setMe(m))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [api]);

  // Prices depend on the prompt, which grows with the watchlist.
  const watchCount = watchlist.symbols?.length ?? 0;
  useEffect(() => {
    let live = true;
    api
      .prices()
      .then((p) => live && setPrices(p))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [api, watchCount]);

  const open = (signal: SignalRow) => setDetail(signal);
  const email = me?.email ?? session.user.email ?? '';

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        {/* The page's level-one heading: the product name. */}
        <h1 className="brand">
          <span className="brand-mark" aria-hidden="true">
            Z
          </span>
          marty
        </h1>
        <span className={`conn conn-${connState.status}`} role="status" title={statusLabel(connState)}>
          <span className="conn-dot" aria-hidden="true" />
          <span className="conn-label">{statusLabel(connState)}</span>
        </span>
        <div className="topbar-right">
          <BalanceView balance={balance} api={api} />
          <span className="user muted" title={email}>
            {me?.displayName ?? email}
          </span>
          <button type="button" className="btn btn-ghost btn-small" data-testid="sign-out" onClick={() => {
              clearChatStorage();
              void supabase.auth.signOut();
            }}>
            Sign out
          </button>
        </div>
      </header>
      <MarketNotice kind={marketData} />

      <nav className="tabs" aria-label="Sections">
        {(['chat', 'watchlist', 'signals'] as const).map((t) => (
          <button key={t} type="button" className={`tab ${tab === t ? 'active' : ''}`} aria-current={tab === t ? 'page' : undefined} onClick={() => setTab(t)}>
            {t === 'chat' ? 'Chat' : t === 'watchlist' ? 'Watchlist' : `Signals${signals.feed.length ? ` (${signals.feed.length})` : ''}`}
          </button>
        ))}
      </nav>

      {/* In the flow, not floating: an alert never covers a control. */}
      <SignalToastsView toasts={signals.toasts} onOpen={open} onDismiss={signals.dismiss} />
      <main id="main" className="layout" data-tab={tab}>
        <div className="col col-watchlist">
          <WatchlistView
            symbols={watchlist.symbols}
            overview={watchlist.overview}
            loadError={watchlist.loadError}
            refused={signals.refused}
            onAdd={watchlist.add}
            onRemove={watchlist.remove}
            onOpen={open}
          />
        </div>
        <div className="col col-chat">
          {connection ? <ChatView connection={connection} connState={connState} userId={userId} api={api} balance={balance} prices={prices} voiceAllowed={me?.limits.voiceAllowed ?? true} /> : <div className="panel muted">Connecting…</div>}
        </div>
        <div className="col col-signals">
          <SignalFeedView feed={signals.feed} onOpen={open} />
        </div>
      </main>

      {detail && (
        <Suspense fallback={<div className="splash-overlay" role="status">Loading chart…</div>}>
          <SignalDetailView signal={detail} api={api} trackRecord={overviewFor(watchlist.overview, detail)?.trackRecord} onClose={() => setDetail(null)} />
        </Suspense>
      )}
    </div>
  );
}
