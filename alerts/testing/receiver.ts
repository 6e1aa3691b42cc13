// A real HTTP webhook receiver on loopback for tests: records every request and answers with
// whatever status the test's policy says.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver answered. */
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  /** Status for the next request (called per request). */
  policy: (r: Received, n: number) => number;
  close(): Promise<void>;
}

export async function startReceiver(policy: (r: Received, n: number) => number = () => 200, port = 0): Promise<Receiver> {
  const rec: Receiver = {
    url: '',
    port: 0,
    requests: [],
    policy,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), status: 0 };
      rec.requests.push(r);
      const status = rec.policy(r, rec.requests.length);
      r.status = status;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  rec.port = addr.port;
  rec.url = `http://127.0.0.1:${addr.port}/hook`;
  rec.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return rec;
}

/** Poll until `cond` holds or `ms` pass. */
export async function waitFor(cond: () => boolean, ms = 10_000, step = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return cond();
}
