import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../../common/errors';

/**
 * Rejects bodies over `maxBytes` with 413 and `Connection: close`.
 *
 * Why close: the 413 goes out before the body is read. @hono/node-server then
 * drains the unread body for at most 500 ms and destroys the socket, while the
 * client (told `keep-alive`) already sent its next request on it, which fails
 * with a reset. Reading a body we refuse could take arbitrarily long, so we
 * say `Connection: close`: Node ends the socket after the response and the
 * client opens a fresh one for its next request.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw payloadTooLarge(maxBytes);
    },
  });
}

/** The 413 for a body over `maxBytes`, closing the connection (see `limitBody`). */
export function payloadTooLarge(maxBytes: number): AppError {
  return new AppError('payload_too_large', `The request body is larger than ${maxBytes} bytes`, { headers: { Connection: 'close' } });
}
