import type pg from 'pg';

/**
 * The chat pool as @socket.io/postgres-adapter should get it: the adapter
 * holds a client for LISTEN without an 'error' listener, so a restarted or
 * failed-over database (any terminated backend) raised an uncaught exception
 * that killed the web process; and it drops a client that ended without
 * releasing it, so each lost connection kept a pool slot for ever (and the
 * pool's `end` waited for it on shutdown). Each client it takes now reports
 * errors to `onError` and goes back to the pool, destroyed, once it has
 * ended; the adapter reconnects by itself. (Its own `close` removes 'end'
 * listeners before releasing, so a client is never released twice.)
 */
export function poolForSocketAdapter(pool: pg.Pool, onError: (err: Error) => void): pg.Pool {
  return new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== 'connect') {
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async () => {
        const client = await target.connect();
        client.on('error', onError);
        client.once('end', () => client.release(true));
        return client;
      };
    },
  });
}
