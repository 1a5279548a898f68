import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny callback receiver for tests: records each request's raw bytes and headers, and answers
 * with the next scripted status (the last one repeats), or with what `answer` returns.
 */
export interface ReceivedCallback {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  json: unknown;
  answered: number;
}

export interface Receiver {
  url: string;
  received: ReceivedCallback[];
  close(): Promise<void>;
}

export async function startReceiver(script: number[] | ((n: number, cb: ReceivedCallback) => number) = [202]): Promise<Receiver> {
  const received: ReceivedCallback[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      json = undefined;
    }
    const cb: ReceivedCallback = { path: req.url ?? '/', headers: req.headers, raw, json, answered: 0 };
    const n = received.length;
    cb.answered = typeof script === 'function' ? script(n, cb) : (script[Math.min(n, script.length - 1)] ?? 202);
    received.push(cb);
    res.writeHead(cb.answered, { 'Content-Type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/shkeeper/webhook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
