import type { Socket } from 'socket.io';
import { ErrorCodes, type ErrorCode } from '../../common/errors';
import type { Metrics } from './metrics';

/** The events of the contract (common/events.ts); anything else a client sends is counted as `other`, so labels stay bounded. */
const KNOWN_EVENTS = new Set(['chat:send', 'chat:abort', 'chat:resume', 'signals:subscribe', 'signals:unsubscribe']);

/**
 * A per-socket middleware (`socket.use`) that times each event from its
 * arrival to its ack and counts the ack's outcome: the handlers stay
 * untouched. An `{ok:false}` ack is a client error or a server error by its
 * code's HTTP status, like the HTTP error rate. Events sent without an ack
 * are counted as `no_ack`, untimed.
 */
export function socketEventMetrics(metrics: Metrics) {
  return (socket: Socket) => {
    socket.use((packet, next) => {
      const event = KNOWN_EVENTS.has(String(packet[0])) ? String(packet[0]) : 'other';
      const last = packet.length - 1;
      const ack = packet[last];
      if (last < 1 || typeof ack !== 'function') {
        metrics.socketEvents.inc({ event, outcome: 'no_ack' });
        return next();
      }
      const stop = metrics.socketDuration.startTimer({ event });
      packet[last] = (result: unknown, ...rest: unknown[]) => {
        stop();
        metrics.socketEvents.inc({ event, outcome: outcomeOf(result) });
        return (ack as (...args: unknown[]) => unknown)(result, ...rest);
      };
      next();
    });
  };
}

function outcomeOf(result: unknown): 'ok' | 'client_error' | 'server_error' {
  const r = result as { ok?: boolean; error?: { code?: string } } | undefined;
  if (r?.ok !== false) return 'ok';
  const status = ErrorCodes[r.error?.code as ErrorCode] ?? 500;
  return status >= 500 ? 'server_error' : 'client_error';
}
