import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A JSON-RPC proxy in front of the local chain. It forwards every request, and can answer a
 * JSON-RPC error for any request that mentions a "poisoned" value (one bad RPC answer among many),
 * delay answers, and count how many calls of a method were in flight at once.
 */
export interface RpcProxy {
  url: string;
  /** Requests whose body contains one of these (lower-cased) strings get a JSON-RPC error. */
  poisoned: Set<string>;
  delayMs: number;
  /** The largest number of concurrent in-flight requests seen per method since `reset`. */
  maxInFlight(method: string): number;
  calls(method: string): number;
  /** Holds every request carrying `method` until `release()`; `arrived` resolves when the first one is held. */
  hold(method: string): { arrived: Promise<void>; release(): void };
  reset(): void;
  close(): Promise<void>;
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const poisoned = new Set<string>();
  const inFlight = new Map<string, number>();
  const maxSeen = new Map<string, number>();
  const counts = new Map<string, number>();
  const state = { delayMs: 0 };
  const holds = new Map<string, { gate: Promise<void>; open(): void; arrived(): void }>();

  const isPoisoned = (entry: unknown) => {
    const text = JSON.stringify(entry).toLowerCase();
    return [...poisoned].some((p) => text.includes(p));
  };
  const poisonAnswer = (id: unknown) => ({ jsonrpc: '2.0', id, error: { code: -32000, message: 'poisoned by the test' } });
  const forward = async (payload: unknown) => {
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    return { status: upstream.status, json: (await upstream.json()) as unknown };
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString());
        } catch {
          res.writeHead(400);
          res.end();
          return;
        }
        // A JSON-RPC batch is an array: each entry counts as a call of its method; the HTTP request
        // counts as in flight for every method it carries.
        const entries = (Array.isArray(parsed) ? parsed : [parsed]) as { method?: string; id?: unknown }[];
        const methods = [...new Set(entries.map((e) => e.method ?? 'unknown'))];
        for (const e of entries) counts.set(e.method ?? 'unknown', (counts.get(e.method ?? 'unknown') ?? 0) + 1);
        for (const m of methods) {
          const now = (inFlight.get(m) ?? 0) + 1;
          inFlight.set(m, now);
          maxSeen.set(m, Math.max(maxSeen.get(m) ?? 0, now));
        }
        try {
          if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
          for (const m of methods) {
            const held = holds.get(m);
            if (held) {
              held.arrived();
              await held.gate;
            }
          }
          let answer: unknown;
          if (!Array.isArray(parsed)) {
            answer = isPoisoned(parsed) ? poisonAnswer(entries[0]!.id ?? null) : (await forward(parsed)).json;
          } else {
            const clean = entries.filter((e) => !isPoisoned(e));
            const upstream = clean.length > 0 ? ((await forward(clean)).json as { id?: unknown }[]) : [];
            const byId = new Map(upstream.map((a) => [JSON.stringify(a.id), a]));
            answer = entries.map((e) => (isPoisoned(e) ? poisonAnswer(e.id ?? null) : byId.get(JSON.stringify(e.id))));
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer));
        } catch {
          res.writeHead(502);
          res.end();
        } finally {
          for (const m of methods) inFlight.set(m, (inFlight.get(m) ?? 1) - 1);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    poisoned,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v: number) {
      state.delayMs = v;
    },
    maxInFlight: (m) => maxSeen.get(m) ?? 0,
    calls: (m) => counts.get(m) ?? 0,
    hold: (method) => {
      let open!: () => void;
      let arrived!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const arrival = new Promise<void>((r) => (arrived = r));
      holds.set(method, { gate, open, arrived });
      return {
        arrived: arrival,
        release: () => {
          holds.delete(method);
          open();
        },
      };
    },
    reset: () => {
      maxSeen.clear();
      counts.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
