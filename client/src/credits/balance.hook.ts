import { useEffect, useState } from 'react';
import type { ChatDoneEvent } from '../../../common/events';
import type { Connection } from '../lib/socket.client';

/** The credit balance: from `/api/me` first, then live from `credits:balance` and every `chat:done`. */
export function useBalance(connection: Connection | null, initial: number | null): number | null {
  const [balance, setBalance] = useState<number | null>(initial);

  useEffect(() => {
    if (initial !== null) setBalance(initial);
  }, [initial]);

  useEffect(() => {
    if (!connection) return;
    const socket = connection.socket;
    const onBalance = (e: { balance: number }) => setBalance(e.balance);
    const onDone = (e: ChatDoneEvent) => setBalance(e.credits.balance);
    socket.on('credits:balance', onBalance);
    socket.on('chat:done', onDone);
    return () => {
      socket.off('credits:balance', onBalance);
      socket.off('chat:done', onDone);
    };
  }, [connection]);

  return balance;
}
