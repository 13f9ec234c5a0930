import type { Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../../common/events';
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { TokenVerifier, VerifiedUser } from '../auth/token-verifier';
import type { InterServerEvents } from './inter-server';

type ZmartySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** The room every socket of a user joins: balance updates reach all their tabs. */
export const userRoom = (userId: string) => `user:${userId}`;

const verifiedUsers = new WeakMap<ZmartySocket, VerifiedUser>();

/** The verified token of a connected socket (set by the handshake middleware). */
export function socketUser(socket: ZmartySocket): VerifiedUser {
  const user = verifiedUsers.get(socket);
  if (!user) throw new AppError('unauthorized', 'Socket is not authenticated');
  return user;
}

/**
 * Handshake auth: `io(url, { auth: { token } })`. A refused handshake reaches
 * the client as `connect_error` whose message is the stable error code
 * (token_missing, token_expired, …). Socket.IO checks the token only here, so
 * expiry during a connection is enforced by a timer: at `exp` the socket is
 * told `auth:expired` and disconnected; the client refreshes, sets
 * `socket.auth`, and reconnects.
 */
export function socketAuthMiddleware(verifyToken: TokenVerifier, log: Logger) {
  return async (socket: ZmartySocket, next: (err?: Error) => void) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      const user = await verifyToken(typeof token === 'string' ? token : undefined);
      socket.data.userId = user.userId;
      socket.data.email = user.email;
      socket.data.tokenExpiresAt = user.expiresAt;
      verifiedUsers.set(socket, user);
      next();
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'unauthorized';
      if (!(err instanceof AppError)) log.error({ err }, 'socket auth failed unexpectedly');
      const error = new Error(code) as Error & { data?: unknown };
      error.data = { code, message: err instanceof AppError ? err.message : 'Authentication failed' };
      next(error);
    }
  };
}

/** Joins the user's room and enforces token expiry on a connected socket. */
export function onAuthenticatedConnection(socket: ZmartySocket): void {
  void socket.join(userRoom(socket.data.userId));
  const msLeft = socket.data.tokenExpiresAt * 1000 - Date.now();
  const timer = setTimeout(() => {
    socket.emit('auth:expired', { message: 'Your session token expired; refresh it and reconnect' });
    socket.disconnect(true);
  }, Math.max(0, Math.min(msLeft, 2 ** 31 - 1)));
  timer.unref();
  socket.once('disconnect', () => clearTimeout(timer));
}
