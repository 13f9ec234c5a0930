import { z } from 'zod';
import { ackFailure, parsePayload } from '../realtime/acks';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { symbolSchema } from '../../common/symbols';
import { signalRoom, type SignalPush, type SignalSocket } from './signal-push';
import { watchedSymbolQueries } from './signals.queries';

const symbolsSchema = z.array(symbolSchema).min(1).max(50);
const subscribeSchema = z.object({ symbols: symbolsSchema, sinceId: z.number().int().min(0).optional() });
const unsubscribeSchema = z.object({ symbols: symbolsSchema });

export interface SignalHandlerDeps {
  push: SignalPush;
  chatDb: Db;
  log: Logger;
}



/**
 * `signals:subscribe` / `signals:unsubscribe` for one socket. A user joins
 * only the symbols on their own watch list: the list is read as that user, so
 * Row Level Security (not this code) decides what they may follow.
 */
export function registerSignalHandlers(socket: SignalSocket, deps: SignalHandlerDeps): void {
  const { push, chatDb, log } = deps;

  socket.on('signals:subscribe', async (payload, ack) => {
    if (typeof ack !== 'function') return;
    try {
      const input = parsePayload(subscribeSchema, payload);
      const symbols = [...new Set(input.symbols)];
      const watched = await chatDb.asUser({ sub: socket.data.userId, role: 'authenticated' }, (q) =>
        watchedSymbolQueries.among(q, symbols),
      );
      const joined = symbols.filter((s) => watched.has(s));
      const refused = symbols.filter((s) => !watched.has(s));
      await push.subscribe(socket, joined, input.sinceId);
      ack({ ok: true, data: { joined, refused } });
    } catch (err) {
      if (!(err instanceof AppError)) log.error({ err, socketId: socket.id, userId: socket.data.userId }, 'signals:subscribe failed');
      ack(ackFailure(err));
    }
  });

  socket.on('signals:unsubscribe', async (payload, ack) => {
    try {
      const input = parsePayload(unsubscribeSchema, payload);
      const left: string[] = [];
      for (const symbol of new Set(input.symbols)) {
        const room = signalRoom(symbol);
        if (!socket.rooms.has(room)) continue;
        await socket.leave(room);
        left.push(symbol);
      }
      if (typeof ack === 'function') ack({ ok: true, data: { left } });
    } catch (err) {
      if (!(err instanceof AppError)) log.error({ err, socketId: socket.id }, 'signals:unsubscribe failed');
      if (typeof ack === 'function') ack(ackFailure(err));
    }
  });
}
