import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** Every JSON body received, in order (failed ones included). */
  received: unknown[];
  /** Answers the next `n` posts with 500 (then 200 again). */
  failNext(n: number): void;
  /** Resolves once `predicate` holds for the bodies received, or rejects after `timeoutMs`. */
  waitFor(predicate: (bodies: unknown[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A loopback HTTP server standing in for a Slack incoming webhook: records each JSON post. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: unknown[] = [];
  let failing = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      if (failing > 0) {
        failing -= 1;
        res.writeHead(500).end('no');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`,
    received,
    failNext: (n) => {
      failing = n;
    },
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`webhook: condition not met; received ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
