import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A scripted JSON-RPC endpoint on 127.0.0.1 for failure cases a real node will not produce on
 * demand: HTTP 5xx and 429, JSON-RPC error objects, requests that never get an answer. Each
 * request is handed to `reply` with the method and how many calls of that method came before.
 */

export type StubReply = { result: unknown } | { rpcError: { code: number; message: string } } | { httpStatus: number; body?: string } | 'hang';

export interface StubRpc {
  url: string;
  /** Methods in the order they were requested. */
  calls: string[];
  close(): Promise<void>;
}

export async function startStubRpc(reply: (method: string, previousCalls: number) => StubReply): Promise<StubRpc> {
  const calls: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const payload = JSON.parse(raw) as { id: number; method: string };
      const previous = calls.filter((m) => m === payload.method).length;
      calls.push(payload.method);
      answer(res, payload.id, reply(payload.method, previous));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, id: number, reply: StubReply): void {
  if (reply === 'hang') return;
  if ('httpStatus' in reply) {
    res.writeHead(reply.httpStatus, { 'content-type': 'text/plain' }).end(reply.body ?? 'stub failure');
    return;
  }
  const body = 'result' in reply ? { jsonrpc: '2.0', id, result: reply.result } : { jsonrpc: '2.0', id, error: reply.rpcError };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
