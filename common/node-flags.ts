/**
 * The Node (V8) flags the worker process runs with, however it is started:
 * `npm start`, the Procfile, `npm run start:worker`, the pipeline bench
 * (node-flags.test.ts holds them to this list).
 *
 * A 32 MB young generation instead of 16: a batch of 50 watchers allocates
 * its candles and results faster than the default scavenges them, so data a
 * batch drops a moment later was copied and promoted. Measured with
 * `npm run bench -- pipeline`, two runs each, alternated: the steady cycle's
 * worker CPU fell from 1.14–1.26 to 0.99–1.03 ms, 609–673 → 695–743 cycles/s.
 * The web process keeps the default: there a larger young generation made
 * fewer but longer pauses, which is the first-token tail.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
