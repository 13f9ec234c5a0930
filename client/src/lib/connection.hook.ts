import type { Session, SupabaseClient } from '@supabase/supabase-js';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { refreshAccessToken } from '../auth/supabase.client';
import { initialConn, type ConnState } from './connection.logic';
import { createConnection, type Connection } from './socket.client';

const noSubscribe = () => () => undefined;
const offline = () => initialConn;

/**
 * The signed-in user's socket. Created in an effect (not during render) so
 * React's development double-mount closes the first one cleanly.
 */
export function useConnection(supabase: SupabaseClient, session: Session): { connection: Connection | null; state: ConnState } {
  const token = useRef(session.access_token);
  token.current = session.access_token;
  const [connection, setConnection] = useState<Connection | null>(null);
  const userId = session.user.id;

  useEffect(() => {
    const created = createConnection({ url: window.location.origin, token: token.current, refresh: () => refreshAccessToken(supabase) });
    setConnection(created);
    created.start();
    const { data } = supabase.auth.onAuthStateChange((event, next) => {
      if (next && (event === 'TOKEN_REFRESHED' || event === 'SIGNED_IN')) created.tokenChanged(next.access_token);
    });
    return () => {
      data.subscription.unsubscribe();
      created.close();
      setConnection(null);
    };
  }, [supabase, userId]);

  const state = useSyncExternalStore(connection?.subscribe ?? noSubscribe, connection?.getState ?? offline);
  return { connection, state };
}
